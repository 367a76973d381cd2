"""`doctor`'s Open edX, FUN and CSV probes on the sandbox, whose answers follow the servers'
code (pinned in tests/sandbox): every setup trap is one ✗ (or ⚠) line with its fix, and a
right setup is all ✓. Nothing the probes send changes the platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.config import Config
from bridge.model import Finding
from connectors.csv import CsvConfig
from connectors.fun.config import FunConfig
from connectors.openedx.config import OpenEdxConfig
from connectors.push_route import PushRoute
from jobs.doctor import diagnose
from sandbox import SandboxPlatform
from sandbox.edx_blocks import presence_block, presence_info_block, usage_key


def lines(findings: list[Finding]) -> list[str]:
    marks = {"ok": "✓", "fail": "✗", "warn": "⚠"}
    return [f"{marks[f.status.value]} {f.subject}: {f.detail}" for f in findings]


def only(findings: list[Finding], status: str) -> list[Finding]:
    return [f for f in findings if f.status.value == status]


def edx_config(tmp_path: Path, p: SandboxPlatform, targets: list[str] = (),  # type: ignore[assignment]
               **over: Any) -> Config:
    course = p.course_ids[0]
    source = OpenEdxConfig(url=p.base_url, client_id=p.client_id,
                           client_secret=SecretStr(over.pop("client_secret", p.client_secret)),
                           api_key=SecretStr(over.pop("api_key", p.api_key)),
                           courses=over.pop("courses", [course]), retries=0, **over)
    sheets = tmp_path / "sheets"
    sheets.mkdir(exist_ok=True)
    routes = [PushRoute(to="lms", course=course, target=f"block:{t}") for t in targets]
    return Config(file=tmp_path / "bridge.toml",
                  sources={"lms": source, "sheets": CsvConfig(path=sheets, push=routes)})


def edx(tmp_path: Path, targets: list[str] = (), **platform: Any) -> Iterator[  # type: ignore[assignment]
        tuple[SandboxPlatform, Any]]:
    over = platform.pop("config", {})
    with SandboxPlatform("openedx", learners=5, seed=3, **platform) as p:
        c = p.world.courses[0]
        keys = [t(c) if callable(t) else t for t in targets]
        yield p, diagnose(edx_config(tmp_path, p, keys, **over), ["lms"])


def test_a_right_open_edx_setup_is_all_ok(tmp_path: Path) -> None:
    for p, found in edx(tmp_path, [presence_block]):
        assert only(found, "fail") == [] and only(found, "warn") == [], lines(found)
        subjects = [f.subject for f in found]
        assert subjects == ["client credentials", "OAuth2 application", "global staff",
                            f"course {p.course_ids[0]}",
                            "waffle switch completion.enable_completion_tracking",
                            "plugin openedx-completion-aggregator",
                            f"push target block:{presence_block(p.world.courses[0])}", "API key"]
        assert p.pushes == []  # the empty completion-batch wrote nothing


@pytest.mark.parametrize("platform, subject, detail, fix", [
    ({"restricted": True}, "OAuth2 application", "restricted: it reads no learner data",
     "Restricted applications, remove the application"),
    ({"global_staff": False}, "global staff", "is not global staff (course staff is not enough)",
     "tick “Staff status”"),
    ({"completion_tracking": False}, "waffle switch completion.enable_completion_tracking",
     "off: no completion is recorded", "waffle_switch --create completion.enable_completion_tracking on"),
    ({"config": {"client_secret": "wrong"}}, "client credentials",
     "client credentials refused", "Django OAuth Toolkit › Applications"),
    ({"config": {"api_key": "wrong"}}, "API key", "refused by the LMS (HTTP 401)",
     "to the LMS's EDX_API_KEY"),
    ({"config": {"courses": ["course-v1:FUN+NOPE+2026"]}}, "course course-v1:FUN+NOPE+2026",
     "not on this LMS", "check the course key in sources.lms.courses"),
])
def test_each_open_edx_trap_is_one_failure_with_its_fix(tmp_path: Path, platform: dict[str, Any],
                                                         subject: str, detail: str, fix: str) -> None:
    for _p, found in edx(tmp_path, [presence_block], **platform):
        failed = only(found, "fail")
        assert [f.subject for f in failed] == [subject], lines(found)
        assert detail in failed[0].detail and fix in failed[0].fix and failed[0].source == "lms"


def test_the_switch_is_a_warning_when_nothing_is_pushed(tmp_path: Path) -> None:
    for _p, found in edx(tmp_path, [], completion_tracking=False):
        assert [f.subject for f in only(found, "warn")] == [
            "waffle switch completion.enable_completion_tracking"]
        assert only(found, "fail") == []


def test_without_the_aggregator_a_warning(tmp_path: Path) -> None:
    for _p, found in edx(tmp_path, [presence_block], aggregator=False):
        warned = only(found, "warn")
        assert [f.subject for f in warned] == ["plugin openedx-completion-aggregator"]
        assert "pip install openedx-completion-aggregator" in warned[0].fix
        assert only(found, "fail") == []


def test_presence_blocks_must_be_completable_leaves_not_completed_on_view(tmp_path: Path) -> None:
    targets = [presence_info_block, lambda c: usage_key(c, "vertical", "presence_v"),
               lambda c: usage_key(c, "staffgradedxblock", "nowhere")]
    for p, found in edx(tmp_path, targets):
        c = p.world.courses[0]
        failed = {f.subject.removeprefix("push target block:"): f for f in only(found, "fail")}
        assert set(failed) == {presence_info_block(c), usage_key(c, "vertical", "presence_v"),
                               usage_key(c, "staffgradedxblock", "nowhere")}, lines(found)
        assert failed[presence_info_block(c)].detail == \
            "a html block is completed by the learner viewing it"
        assert "is not a completable leaf" in failed[usage_key(c, "vertical", "presence_v")].detail
        assert failed[usage_key(c, "staffgradedxblock", "nowhere")].detail.startswith(
            "no such block in course")


# -- FUN ----------------------------------------------------------------------------
def fun_config(tmp_path: Path, p: SandboxPlatform, key: str | None, reports: Path | None) -> Config:
    source = FunConfig(url=p.base_url, api_key=SecretStr(key) if key else None,
                       courses=p.course_ids[:1], reports_dir=reports, retries=0)
    return Config(file=tmp_path / "bridge.toml", sources={"fun": source})


def test_fun_key_and_reports(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    with SandboxPlatform("fun", learners=6, seed=7) as p:
        p.write_reports(reports)
        good = diagnose(fun_config(tmp_path, p, p.api_key, reports), ["fun"])
        bad_key = diagnose(fun_config(tmp_path, p, "wrong", reports), ["fun"])
        (reports / f"{sorted(reports.iterdir())[0].name}").write_text("id;what\n1;2\n", encoding="utf-8")
        broken = diagnose(fun_config(tmp_path, p, None, reports), ["fun"])
        missing = diagnose(fun_config(tmp_path, p, None, tmp_path / "nowhere"), ["fun"])
    assert only(good, "fail") == [] and only(good, "warn") == [], lines(good)
    assert [f.detail for f in good if f.subject.startswith("report ")] == [
        f"grade report of course {p.course_ids[0]}, 6 rows",
        f"profile report of course {p.course_ids[0]}, 6 rows"]
    assert [(f.subject, f.detail) for f in only(bad_key, "fail")] == [
        ("API key", "refused by the grades endpoint (HTTP 403)")]
    assert [f.subject for f in only(broken, "fail")] == [
        f"report {sorted(reports.iterdir())[0].name}"]
    assert [f.subject for f in only(broken, "warn")] == [f"course {p.course_ids[0]}"]
    assert [(f.subject, f.fix) for f in only(missing, "fail")] == [
        ("reports folder", "create it, or fix sources.fun.reports_dir")]


# -- CSV ----------------------------------------------------------------------------
def test_csv_folder_and_headers(tmp_path: Path) -> None:
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    (sheets / "a.csv").write_text("Courriel;Présent;Séance\nana@example.org;oui;s1\n",
                                  encoding="utf-8")
    (sheets / "b.csv").write_text("Nom;Signature\nAna;x\n", encoding="utf-8")
    config = Config(file=tmp_path / "bridge.toml", sources={
        "sheets": CsvConfig(path=sheets), "gone": CsvConfig(path=tmp_path / "gone")})
    found = diagnose(config, ["sheets", "gone"])
    assert lines(found) == [
        "✓ sheet a.csv: header understood, 1 presence",
        "✗ sheet b.csv: header: no column for email (email, courriel, e-mail); presence (présent, "
        "statut, présence, status); session or date (séance, session, date); found: Nom, Signature",
        f"✗ sheets: {tmp_path / 'gone'} does not exist"]
