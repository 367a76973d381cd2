"""The `fun` connector: FUN-MOOC's instructor reports as Dogwood writes them (and as a French
spreadsheet re-saves them), imported whole or refused with file:line: column; the reports
folder, its retention and erasure; per-learner grades with FUN's API key; the config's
former meaning and push routes to FUN refused when the config loads."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.config import Config
from bridge.errors import ConfigError
from bridge.model import FactKind
from bridge.store import Store
from connectors.fun import FunConfig, FunConnector
from connectors.fun.reports import ReportRefused
from connectors.http import HttpClient
from connectors.registry import load as load_config
from jobs.pull import pull_sources
from jobs.run import run_sync
from sandbox import SandboxPlatform
from sandbox.edx_http import passed

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "fun"
GRADES = FIX / "FUN_SNT_2026_T1_grade_report_2026-03-02-0915.csv"
PROFILES = FIX / "FUN_SNT_2026_T1_student_profile_info_2026-03-02-0916.csv"
COURSE = "FUN/SNT/2026_T1"


def fun(tmp_path: Path | None = None, **extra: Any) -> FunConnector:
    cfg = FunConfig(courses=[COURSE, "course-v1:FUN+SNT2+2026_T1"],
                    **({"reports_dir": tmp_path} if tmp_path else {}), **extra)
    return FunConnector("fun", cfg, http=HttpClient("fun", retries=2, sleep=lambda s: None))


def test_the_grade_report_gives_enrolments_grades_and_delivered_certificates() -> None:
    """Dogwood tasks_helper.py upload_grades_csv: grade is the percent; Certificate Eligible is
    Y for a learner who passed; Delivered Y once the certificate exists."""
    report = fun().read(GRADES)
    facts = {(f.external_id, f.kind): f for f in report.batch.facts}
    idents = {i.external_id: i for i in report.batch.identities}
    assert report.kind == "grades" and report.course == COURSE and report.rows == 4
    assert idents["thomas_dubois"].email == "thomas.dubois@ac-lyon.fr"
    assert (facts[("camille_lefevre", FactKind.grade)].value,
            facts[("camille_lefevre", FactKind.grade)].status) == (0.86, "passed")
    assert facts[("mehdi_benali", FactKind.grade)].status == "failed"
    assert facts[("camille_lefevre", FactKind.grade)].attrs["section:Examen"] == 0.8
    assert facts[("thomas_dubois", FactKind.enrolment)].attrs["track"] == "verified"
    assert {u for u, k in facts if k == FactKind.certificate} == {"camille_lefevre"}
    assert report.passed == {"camille_lefevre", "thomas_dubois"}


def test_the_profile_report_gives_names_and_languages() -> None:
    report = fun().read(PROFILES)
    idents = {i.external_id: i for i in report.batch.identities}
    assert report.kind == "profiles" and report.batch.facts == []
    assert (idents["elodie_moreau"].fullname, idents["elodie_moreau"].lang) == ("Élodie Moreau", "fr")
    assert idents["thomas_dubois"].lang == "en"


def test_french_headers_semicolons_and_decimal_commas_are_read() -> None:
    report = fun().read(FIX / "rapport_notes_fr.csv", COURSE)
    grades = {f.external_id: f.value for f in report.batch.facts if f.kind == FactKind.grade}
    assert grades == {"camille_lefevre": 0.86, "elodie_moreau": 0.0}


def test_columns_are_named_by_configuration_when_the_defaults_miss(tmp_path: Path) -> None:
    path = tmp_path / "FUN_SNT_2026_T1_grade_report_x.csv"
    path.write_text("id,Adresse,username,grade,Certificate Eligible,Certificate Delivered\n"
                    "7,zoe@example.org,zoe,0.7,Y,N\n", encoding="utf-8")
    with pytest.raises(ReportRefused, match="missing email"):
        fun().read(path)
    report = fun(columns={"email": "Adresse"}).read(path)
    assert [i.email for i in report.batch.identities] == ["zoe@example.org"]
    with pytest.raises(ValueError, match="unknown field"):
        FunConfig(courses=[COURSE], columns={"courriel": "Adresse"})


def test_a_malformed_report_is_refused_whole_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "FUN_SNT_2026_T1_grade_report_bad.csv"
    lines = GRADES.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("elodie.moreau@ac-nice.fr", "elodie.moreau")
    lines[3] = lines[3].replace(",0.55,", ",55%,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReportRefused) as exc:
        fun().read(path)
    lines = exc.value.lines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:3: column email: 'elodie.moreau' is not an email address (")
    assert lines[1] == f"{path}:4: column grade: '55%' is not a grade between 0 and 1"


def sync(store: Store, connector: Any) -> dict[str, Any]:
    config = Config(file=Path("bridge.toml"), sources={connector.source_id: connector.config})
    run = store.runs.begin([connector.source_id])
    return pull_sources(config, store, run, connectors={connector.source_id: connector})[
        connector.source_id].as_dict() | {"run_errors": store.runs.errors(run)}


def test_a_dropped_report_is_imported_then_deleted(tmp_path: Path) -> None:
    """Each sync reads the folder; each file is one transaction; the file, which holds personal
    data, is deleted once stored (report_retention_days = 0)."""
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    folder = tmp_path / "reports"
    with SandboxPlatform("fun", learners=40, seed=7) as sb:
        sb.write_reports(folder)
        c = sb.world.courses[0]
        stats = sync(store, fun(folder))
        expected = {u.username for u in sb.world.enrolled(c.id) if passed(c, u)}
        names = {u.email: u.fullname for u in sb.world.enrolled(c.id) if u.email}
    facts = [f for fs in store.facts.of_learners(store.facts.learner_ids()).values() for f in fs]
    people = store.facts.learners(store.facts.learner_ids()).values()
    assert stats["run_errors"] == [] and stats["batches"] == 2
    assert {f.external_id for f in facts if f.kind == FactKind.grade and f.status == "passed"} \
        == expected
    assert {p.email: p.fullname for p in people if p.email} == names
    assert stats["learners_without_email"] == 2 and list(folder.iterdir()) == []


def test_a_kept_report_is_not_imported_twice_and_expires(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(GRADES, folder)
    first = sync(store, fun(folder, report_retention_days=2))
    second = sync(store, fun(folder, report_retention_days=2))
    kept = folder / GRADES.name
    old = time.time() - 3 * 86400
    os.utime(kept, (old, old))
    third = sync(store, fun(folder, report_retention_days=2))
    assert first["new_facts"] == 9 and second["new_facts"] == second["changed_facts"] == 0
    assert third["new_facts"] == 0 and not kept.exists()


def test_a_reimported_unchanged_report_creates_nothing_and_a_changed_grade_is_recorded(
        tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    c = fun()
    run = store.runs.begin(["fun"])
    assert store.facts.ingest(run, c.read(GRADES).batch).new_facts == 9
    again = store.facts.ingest(run, c.read(GRADES).batch)
    changed = tmp_path / GRADES.name
    changed.write_text(GRADES.read_text(encoding="utf-8").replace(",0.42,", ",0.61,"), encoding="utf-8")
    moved = store.facts.ingest(run, c.read(changed).batch)
    assert (again.new_facts, again.changed_facts) == (0, 0)
    assert (moved.new_facts, moved.changed_facts) == (0, 1)


def test_per_learner_grades_are_asked_for_reported_learners_not_yet_passed(tmp_path: Path) -> None:
    """fun-apps grades_api: one learner a call, with FUN's API key; learners the report or a
    previous look-up showed passed are not asked again."""
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    folder = tmp_path / "reports"
    with SandboxPlatform("fun", profile="scale", learners=60, seed=7) as sb:
        sb.write_reports(folder)
        c = sb.world.courses[0]
        reported = sb.world.enrolled(c.id)
        first = fun(folder, url=sb.base_url, api_key=sb.api_key)
        sync(store, first)
        learner = next(u for u in reported if not passed(c, u))
        learner.progress[c.id].grade = 0.9  # passes after the report was downloaded
        second = fun(folder, url=sb.base_url, api_key=sb.api_key)
        sync(store, second)
        third = fun(folder, url=sb.base_url, api_key=sb.api_key)
        sync(store, third)
        refused = fun(folder, url=sb.base_url, api_key="wrong")
        stats = sync(store, refused)
    not_passed = sum(1 for u in reported if u is not learner and not passed(c, u)) + 1
    assert first.requests["fun/api/grades"] == not_passed
    assert second.requests["fun/api/grades"] == not_passed
    assert third.requests["fun/api/grades"] == not_passed - 1  # learner now recorded passed
    assert refused.requests["fun/api/grades"] == 1 and len(stats["run_errors"]) == 1
    assert "API key is refused" in stats["run_errors"][0].message


def config_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(f'[bridge]\ndata_dir = "{tmp_path / "state"}"\n\n{body}', encoding="utf-8")
    return path


def test_a_former_fun_config_is_refused_with_what_changed_and_how_to_migrate(tmp_path: Path) -> None:
    path = config_file(tmp_path, '[sources.fun]\nkind = "fun"\nclient_id = "bridge"\n'
                                 'client_secret = "s"\ncourses = ["course-v1:inria+41018+session05"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    text = str(exc.value)
    assert exc.value.key == "sources.fun" and exc.value.line == 4
    assert "Dogwood" in text and "remove client_id, client_secret" in text
    assert 'kind = "openedx"' in text and "reports_dir" in text


def test_a_push_route_to_fun_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    path = config_file(tmp_path, f'''[sources.fun]
kind = "fun"
courses = ["{COURSE}"]

[sources.sheets]
kind = "csv"
path = "sheets"

[[sources.sheets.push]]
to = "fun"
course = "{COURSE}"
target = "block:block-v1:FUN+SNT+2026_T1+type@staffgradedxblock+block@presence"
''')
    with pytest.raises(ConfigError, match="no completion write API") as exc:
        load_config(path)
    assert exc.value.key == "sources.sheets.push[0].target"


def cli_config(tmp_path: Path, folder: Path, retention: int = 0) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "mooc.toml").write_text(f'''[badge]
id = "mooc"
name = {{ fr = "MOOC réussi", en = "MOOC passed" }}
description = {{ fr = "Note d'au moins 60 %.", en = "A grade of 60% or more." }}

[condition]
grade = {{ source = "fun", course = "{COURSE}", ">=" = 0.6 }}
''', encoding="utf-8")
    return config_file(tmp_path, f'[sources.fun]\nkind = "fun"\ncourses = ["{COURSE}"]\n'
                                 f'reports_dir = "{folder}"\nreport_retention_days = {retention}\n')


def test_reports_import_stores_the_file_or_refuses_it_whole(tmp_path: Path) -> None:
    from cli.reports import reports

    folder = tmp_path / "reports"
    folder.mkdir()
    good = Path(shutil.copy(GRADES, folder))
    bad = tmp_path / "FUN_SNT_2026_T1_grade_report_bad.csv"
    bad.write_text(GRADES.read_text(encoding="utf-8").replace(",0.55,", ",abc,"), encoding="utf-8")
    cfg = cli_config(tmp_path, folder)
    refused = CliRunner().invoke(reports, ["import", str(bad), "--source", "fun", "--config", str(cfg)])
    done = CliRunner().invoke(reports, ["import", str(good), "--source", "fun", "--config", str(cfg)])
    assert refused.exit_code == 1
    assert f"{bad}:4: column grade: 'abc' is not a grade between 0 and 1" in refused.output
    assert done.exit_code == 0, done.output
    assert f"imported the grade report of {COURSE}: 4 learner(s), 9 new fact(s)" in done.output
    assert not good.exists() and "deleted" in done.output
    assert bad.exists() and "outside reports_dir" not in refused.output


def test_erasing_a_learner_removes_them_from_kept_reports(tmp_path: Path) -> None:
    from cli.main import main

    folder = tmp_path / "reports"
    folder.mkdir()
    kept = Path(shutil.copy(GRADES, folder))
    config = load_config(cli_config(tmp_path, folder, retention=30))
    store = Store(config.bridge.db_url)
    imported = run_sync(config, store, steps=("pull", "evaluate"))
    erased = CliRunner().invoke(main, ["learners", "erase", "camille.lefevre@ac-nice.fr", "--yes",
                                       "--config", str(config.file)])
    again = run_sync(config, store, steps=("pull",))
    assert imported.sources["fun"].new_facts == 9 and kept.exists()
    assert erased.exit_code == 0, erased.output
    assert "1 report row\n" in erased.output
    text = kept.read_text(encoding="utf-8")
    assert "camille" not in text and "elodie.moreau@ac-nice.fr" in text
    assert again.sources["fun"].batches == 1 and again.sources["fun"].new_facts == 0
    assert store.facts.learner_by_email("camille.lefevre@ac-nice.fr") is None


def test_config_check_says_what_changed_for_a_former_fun_source(tmp_path: Path) -> None:
    from cli.main import main

    path = config_file(tmp_path, '[sources.fun]\nkind = "fun"\nclient_id = "bridge"\n'
                                 'client_secret = "s"\ncourses = ["course-v1:inria+41018+session05"]\n')
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}:4: sources.fun: kind = \"fun\" changed meaning")


@pytest.mark.parametrize("dialect", ["openedx", "fun"])
def test_the_sandbox_prints_a_source_table_that_loads(tmp_path: Path, dialect: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.command import snippet

    with SandboxPlatform(dialect, learners=3, seed=3) as sb:
        toml, exports = snippet(sb, "lab", tmp_path / "reports")
    for line in exports:
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, value.split()[0])
    config = load_config(config_file(tmp_path, toml))
    assert config.sources["lab"].kind == dialect

