"""Sign-in sheets: a coordinator imports a presence list; bad rows are named by line, `--strict`
refuses the whole file, and a file is never half-imported."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from bridge.store import Store
from bridge.store.schema import facts
from cli.presence import presence
from connectors.csv import CsvConfig, CsvConnector, parse_sheet

from .conftest import FakeState

SHEET = """email;nom;date;lieu;statut;tags
alice.martin@example.org;Alice Martin;2025-10-11;Tiers-lieu La Fabrique, Nice;présent;snt
bruno.petit@example.org;Bruno Petit;11/10/2025;Tiers-lieu La Fabrique, Nice;absent;snt
not-an-email;Chloé;2025-10-11;Nice;présent;
dora@example.org;Dora;someday;Nice;présent;
emile@example.org;Émile;2025-10-11;Nice;peut-être;
"""


def test_each_bad_row_is_reported_with_its_line_and_reason() -> None:
    sheet = parse_sheet(SHEET, "sheets", CsvConfig(path=Path("x.csv"), tags=["meetup"]))
    assert [line for line, _ in sheet.problems] == [4, 5, 6]
    assert "not an email address" in sheet.problems[0][1]
    assert "not a date" in sheet.problems[1][1]
    assert "present/absent" in sheet.problems[2][1]
    alice, bruno = sheet.batch.facts
    assert alice.item == bruno.item == "2025-10-11@tiers-lieu-la-fabrique-nice"  # same session
    assert (alice.value, bruno.value) == (1.0, 0.0)
    assert alice.attrs["tags"] == ["meetup", "snt"]
    assert alice.attrs["place"] == "Tiers-lieu La Fabrique, Nice"


def test_a_strict_source_imports_nothing_from_a_sheet_with_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(SHEET, encoding="utf-8")
    state = FakeState()
    strict = CsvConnector("sheets", CsvConfig(path=path, strict=True))
    assert list(strict.pull(state)) == []
    assert [e.endpoint for e in state.errors] == ["sheet.csv:4", "sheet.csv:5", "sheet.csv:6"]
    lenient = list(CsvConnector("sheets", CsvConfig(path=path)).pull(FakeState()))
    assert len(lenient) == 1 and len(lenient[0].facts) == 2  # one batch: one transaction


def test_an_unchanged_sheet_is_not_read_twice(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(SHEET, encoding="utf-8")
    state = FakeState()
    connector = CsvConnector("sheets", CsvConfig(path=path))
    for batch in connector.pull(state):
        state.keep(batch)
    assert list(connector.pull(state)) == []


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "bridge.toml"
    cfg.write_text(f'[bridge]\ndata_dir = "{tmp_path}"\n\n[sources.sheets]\nkind = "csv"\n'
                   f'path = "{tmp_path}"\n', encoding="utf-8")
    return cfg


def _fact_count(tmp_path: Path) -> int:
    store = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(facts)).scalar_one())


def test_presence_import_strict_refuses_the_file_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(SHEET, encoding="utf-8")
    result = CliRunner().invoke(presence, ["import", str(path), "--strict", "--config", str(_config(tmp_path))])
    assert result.exit_code == 1
    assert f"{path}:4: email 'not-an-email' is not an email address" in result.output
    assert "nothing imported" in result.output
    assert _fact_count(tmp_path) == 0


def test_presence_import_keeps_the_good_rows_and_lists_the_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(SHEET, encoding="utf-8")
    result = CliRunner().invoke(presence, ["import", str(path), "--config", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "imported 2 presence row(s), 2 new; 3 bad row(s) skipped" in result.output
    assert _fact_count(tmp_path) == 2
