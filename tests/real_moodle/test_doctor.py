"""`badge-bridge doctor` against a real Moodle 4.5: a full token, then tokens of their own
service missing one capability or one function (the kit's `start --drop-…`), each giving one ✗
line that names what is missing and where to grant it; the push targets' kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main

SOURCE = """
[bridge]
data_dir = "data"

[sources.campus]
kind = "moodle"
url = "{url}"
token = {{ env = "DOCTOR_MOODLE_TOKEN" }}
courses = ["{course}"]
{extra}
"""


def doctor(tmp_path: Path, site: Any, course: int, token: str, extra: str = "",
           *args: str) -> Result:
    config = tmp_path / "bridge.toml"
    config.write_text(SOURCE.format(url=site.url, course=course, extra=extra), encoding="utf-8")
    result = CliRunner().invoke(main, ["--lang", "en", "doctor", "--config", str(config),
                                       "--source", "campus", *args],
                                env={"DOCTOR_MOODLE_TOKEN": token})
    print(result.output)  # the literal output, kept in the test log
    return result


def marked(result: Result, mark: str) -> list[str]:
    return [line.strip() for line in result.output.splitlines() if line.strip().startswith(mark)]


def test_a_full_token_passes_every_probe(tmp_path: Path, site: Any, hybrid: dict[str, Any]) -> None:
    result = doctor(tmp_path, site, hybrid["courseid"], site.token)
    assert result.exit_code == 0, result.output
    assert marked(result, "✗") == [] and marked(result, "⚠") == []
    ok = marked(result, "✓")
    for capability in ("report/completion:view", "moodle/site:viewuseridentity or moodle/course:useremail",
                       "report/progress:view", "gradereport/user:view", "mod/attendance:view"):
        assert any(line.startswith(f"✓ capability {capability}:") for line in ok), capability
    assert f"✓ course {hybrid['courseid']}: exists, completion tracking on, roster read" in ok
    assert "web-service user bbws" in ok[0]


def test_without_report_completion_view(tmp_path: Path, site: Any, hybrid: dict[str, Any]) -> None:
    token = site.crippled("--drop-cap=report/completion:view")
    result = doctor(tmp_path, site, hybrid["courseid"], token)
    assert result.exit_code == 1
    assert marked(result, "✗") == [
        f"✗ capability report/completion:view: core_completion_get_course_completion_status "
        f"refused on course {hybrid['courseid']}: the token user cannot view the course completion "
        "report (Moodle: You cannot view this report) (needed for course completion)"]
    fix = result.output.split("✗ capability report/completion:view")[1].splitlines()[1].strip()
    assert fix.startswith("fix: grant report/completion:view to the role of web-service user bbws_")
    assert fix.endswith("(Site administration › Users › Permissions › Define roles)")


def test_a_function_missing_from_the_service(tmp_path: Path, site: Any,
                                             hybrid: dict[str, Any]) -> None:
    token = site.crippled("--drop-function=core_completion_get_activities_completion_status")
    result = doctor(tmp_path, site, hybrid["courseid"], token)
    assert result.exit_code == 1
    assert marked(result, "✗") == [
        "✗ function core_completion_get_activities_completion_status: not in the token's external "
        "service (needed for activity completion)"]
    assert ("fix: add core_completion_get_activities_completion_status to the token's external "
            "service (Site administration › Server › Web services › External services › "
            "Functions)") in result.output
    # the capability behind the function could not be read: no line claims it either way
    assert "capability report/progress:view" not in result.output


def test_without_viewuseridentity_learners_have_no_email(tmp_path: Path, site: Any,
                                                         hybrid: dict[str, Any]) -> None:
    # moodle/course:useremail shows the address too: both go, as on a site that grants neither
    token = site.crippled("--drop-cap=moodle/site:viewuseridentity,moodle/course:useremail")
    result = doctor(tmp_path, site, hybrid["courseid"], token, "", "--json")
    assert result.exit_code == 1
    import json

    failed = [f for f in json.loads(result.output)["findings"] if f["status"] == "fail"]
    assert [f["subject"] for f in failed] == [
        "capability moodle/site:viewuseridentity or moodle/course:useremail"]
    assert failed[0]["detail"] == (f"20 of 20 learners of course {hybrid['courseid']} came "
                                   "without their email")
    assert failed[0]["fix"].startswith("grant moodle/site:viewuseridentity or "
                                       "moodle/course:useremail to the role of web-service user")
    assert failed[0]["source"] == "campus"


def test_push_targets_are_checked_for_their_kind(tmp_path: Path, site: Any,
                                                hybrid: dict[str, Any]) -> None:
    course, cmids = hybrid["courseid"], hybrid["cmids"]
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    routes = "".join(
        f'\n[[sources.sheets.push]]\nto = "campus"\ncourse = "{course}"\ntarget = "{target}"\n'
        for target in (f"completion:{cmids['meetup']}", f"completion:{cmids['page']}",
                       f"attendance:{hybrid['sessionid']}", "completion:999999"))
    extra = f'\n[sources.sheets]\nkind = "csv"\npath = "{sheets}"\n' + routes
    result = doctor(tmp_path, site, course, site.token, extra)
    lines = "\n".join(marked(result, "✓") + marked(result, "✗") + marked(result, "⚠"))
    assert f"✓ push target completion:{cmids['meetup']}: “Meetup (in person)”, manual completion" in lines
    assert f"✗ push target completion:{cmids['page']}: “Online module” is not a manual-completion " \
        "activity" in lines
    assert f"✓ push target attendance:{hybrid['sessionid']}: attendance session of course {course}" in lines
    assert f"✗ push target completion:999999: no activity 999999 in course {course}" in lines
    assert "⚠ capability moodle/course:overridecompletion: not verifiable without writing" in lines
    assert "⚠ capability mod/attendance:takeattendances: not verifiable without writing" in lines
    assert result.exit_code == 1


@pytest.mark.usefixtures("hybrid")
def test_the_completion_report_and_its_audience(tmp_path: Path, site: Any, hybrid: dict[str, Any],
                                                completion_report: int) -> None:
    result = doctor(tmp_path, site, hybrid["courseid"], site.token,
                    f"completion_report = {completion_report}")
    assert f"✓ completion report {completion_report}: readable, on course participants, " \
        "completed only" in result.output
    token = site.crippled("--drop-cap=moodle/reportbuilder:view,moodle/reportbuilder:viewall")
    refused = doctor(tmp_path, site, hybrid["courseid"], token,
                     f"completion_report = {completion_report}")
    assert f"✗ completion report {completion_report}: the report is refused to the token user" \
        in refused.output
    assert "add the user (or its role) to the report's audience" in refused.output
    assert refused.exit_code == 1


def test_init_then_the_first_sync_awards_whom_moodle_says_completed(
        tmp_path: Path, site: Any, hybrid: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from bridge.delivery.catcher import MailCatcher
    from bridge.store import Store

    course = str(hybrid["courseid"])
    monkeypatch.chdir(tmp_path)
    catcher = MailCatcher().start()
    env = {"BADGE_BRIDGE_MOODLE_TOKEN": site.token}
    try:
        made = CliRunner().invoke(main, [
            "--lang", "en", "init", "--kind", "moodle", "--url", site.url, "--course", course,
            "--smtp", f"127.0.0.1:{catcher.port}", "--yes"], env=env)
        print(made.output)
        assert made.exit_code == 0, made.output
        assert (f"      completion:{hybrid['cmids']['meetup']}  Meetup (in person)  "
                "[manual completion]") in made.output
        assert f"      attendance:{hybrid['sessionid']}  Attendance — " in made.output
        assert made.output.splitlines()[-4:] == [
            "Next:", "  badge-bridge doctor --config bridge.toml",
            "  badge-bridge sync --config bridge.toml --dry-run",
            "  badge-bridge daemon --config bridge.toml --serve"]
        text = (tmp_path / "bridge.toml").read_text(encoding="utf-8")
        assert site.token not in text and 'token = { env = "BADGE_BRIDGE_MOODLE_TOKEN" }' in text
        config = tomllib.loads(text)
        assert config["sources"]["campus"]["courses"] == [course]
        rule = tomllib.loads((tmp_path / "rules" / f"campus-{course}.toml").read_text(encoding="utf-8"))
        assert rule["condition"] == {"course_completed": {"source": "campus", "course": course}}
        synced = CliRunner().invoke(main, ["--lang", "en", "sync", "--config", "bridge.toml"], env=env)
        print(synced.output)
        assert synced.exit_code == 0, synced.output
    finally:
        catcher.stop()
    store = Store(f"sqlite:///{tmp_path / '.badge-bridge' / 'bridge.db'}")
    try:
        holders = {listed.award.learner_id for listed in store.awards.listing()}
        awarded = {int(i.external_id) for i in store.facts.identities_of("campus", holders).values()}
    finally:
        store.close()
    assert awarded == set(hybrid["userids"]["complete"]) and awarded
    assert len(catcher.messages) == len(awarded)


def test_viewuseridentity_alone_is_not_missed_when_useremail_stands_in(
        tmp_path: Path, site: Any, hybrid: dict[str, Any]) -> None:
    """Moodle 4.5 still gives learners' emails to a role holding moodle/course:useremail without
    moodle/site:viewuseridentity: nothing a configured feature needs is missing."""
    token = site.crippled("--drop-cap=moodle/site:viewuseridentity")
    result = doctor(tmp_path, site, hybrid["courseid"], token)
    assert result.exit_code == 0, result.output
    assert (f"✓ capability moodle/site:viewuseridentity or moodle/course:useremail: "
            f"core_enrol_get_enrolled_users answered on course {hybrid['courseid']}") in result.output
