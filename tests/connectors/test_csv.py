"""Sign-in sheets: a coordinator imports a presence list; bad rows are named by line, `--strict`
refuses the whole file, and a file is never half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import Store
from cli.presence import presence
from connectors.csv import CsvConfig, CsvConnector, decode, parse_sheet

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
    assert "présent/absent" in sheet.problems[2][1]
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
    return Store(f"sqlite:///{tmp_path / 'bridge.db'}").counts()["facts"]


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


FRENCH = "Nom;Prénom;Courriel;Date;Lieu;Présent·e\r\n" \
         "Martin;Alice;Alice.Martin@Example.org;14/11/2025;Médiathèque de Carros;oui\r\n" \
         "Petit;Bruno;bruno.petit@example.org;14/11/2025;Médiathèque de Carros;\r\n" \
         "Durand;Chloé;chloe.durand@example.org;14/11/2025;Médiathèque de Carros;✓\r\n"


def test_a_french_sheet_as_excel_writes_it_imports(tmp_path: Path) -> None:
    """Windows-1252, `;`, CRLF, first and last names apart, a ticked or empty presence column."""
    path = tmp_path / "emargement.csv"
    path.write_bytes(FRENCH.replace("✓", "x").encode("cp1252"))  # no ✓ in Windows-1252
    sheet, _ = CsvConnector("sheets", CsvConfig(path=path)).read(path)
    assert sheet.problems == []
    alice, bruno, chloe = sorted(sheet.batch.facts, key=lambda f: f.external_id)
    assert (alice.external_id, alice.value, bruno.value, chloe.value) == (
        "alice.martin@example.org", 1.0, 0.0, 1.0)
    assert alice.attrs["place"] == "Médiathèque de Carros"
    assert {i.fullname for i in sheet.batch.identities} == {"Alice Martin", "Bruno Petit", "Chloé Durand"}
    ticked = parse_sheet(FRENCH, "sheets", CsvConfig(path=path))
    assert [f.value for f in sorted(ticked.batch.facts, key=lambda f: f.external_id)] == [1.0, 0.0, 1.0]


def test_the_french_header_of_the_issue_and_cr_only_line_endings() -> None:
    text = "Nom;Courriel;Date;Lieu;Présent\rAlice Martin;alice@example.org;2025-11-14;Nice;Présente\r"
    sheet = parse_sheet(text, "sheets", CsvConfig(path=Path("x.csv")))
    assert sheet.problems == [] and sheet.batch.facts[0].value == 1.0
    assert sheet.batch.identities[0].fullname == "Alice Martin"


def test_an_unknown_header_says_what_it_found_and_what_is_accepted() -> None:
    sheet = parse_sheet("Qui;Quand\nAlice;lundi\n", "sheets", CsvConfig(path=Path("x.csv")))
    assert sheet.problems == [(1, "header: no column for email (email, courriel, e-mail); presence "
                                  "(présent, statut, présence, status); session or date (séance, "
                                  "session, date); found: Qui, Quand")]


@pytest.mark.parametrize(("cell", "reason"), [
    ("x4+<svg/onload=alert(1)>@example.org", "not an email address"),
    ("alice@example.org, bob@example.org", "not an email address"),
    ("Alice <alice@example.org>", "not an email address"),
])
def test_addresses_are_parsed_not_pattern_matched(cell: str, reason: str) -> None:
    text = f'email,status,date\n"{cell}",present,2025-11-14\n'
    sheet = parse_sheet(text, "sheets", CsvConfig(path=Path("x.csv")))
    assert sheet.batch.facts == [] and reason in sheet.problems[0][1]


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31T23:59:59-12:00", "1900-02-29",
                                  "31/12/9999", "2025-02-30"])
def test_dates_at_the_calendar_edges_are_refused_by_line(date: str) -> None:
    sheet = parse_sheet(f"email,status,date\na@example.org,present,{date}\n", "s",
                        CsvConfig(path=Path("x.csv")))
    assert sheet.batch.facts == [] and sheet.problems[0][0] == 2
    assert date in sheet.problems[0][1]


def test_a_name_with_a_line_break_or_nul_is_one_line_and_overlong_cells_are_refused() -> None:
    text = ('email,name,status,date,place\n"a@example.org","Alice\r\nMartin\x00",present,2025-11-14,Nice\n'
            f'b@example.org,{"B" * 301},present,2025-11-14,Nice\n')
    sheet = parse_sheet(text, "s", CsvConfig(path=Path("x.csv")))
    assert sheet.batch.identities[0].fullname == "Alice Martin"
    assert sheet.problems == [(4, "name: longer than 300 characters")]


def test_a_cell_over_the_csv_field_limit_ends_the_sheet_with_its_line() -> None:
    text = "email,status,date\na@example.org,present,2025-11-14\n" + '"' + "x" * 200_000 + '",p,2025-11-14\n'
    sheet = parse_sheet(text, "s", CsvConfig(path=Path("x.csv")))
    assert len(sheet.batch.facts) == 1
    assert "unreadable CSV" in sheet.problems[0][1] and "the rest of the file" in sheet.problems[0][1]


@settings(max_examples=300)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8")))
def test_no_sheet_content_raises(raw: bytes) -> None:
    header = b"email;nom;date;lieu;statut;tags\n"
    for text in (decode(raw), decode(header + raw), decode(SHEET.encode() + raw)):
        sheet = parse_sheet(text, "s", CsvConfig(path=Path("x.csv")))
        assert all(isinstance(line, int) and reason for line, reason in sheet.problems)
