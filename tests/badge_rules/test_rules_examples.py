"""The shipped example rule sets load, pass their own test cases, and carry real images.

The demo rule set is pinned: the built-in demo depends on exactly this badge and condition.
"""

from __future__ import annotations

from pathlib import Path

import png
import pytest
from click.testing import CliRunner

from badge_rules import load_rules, run_tests
from badge_rules.nodes import ActivityCompleted, All, CourseCompleted
from cli.rules import rules

EXAMPLES = Path(__file__).parents[2] / "badge_rules" / "examples"
EXAMPLE_DIRS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())


def test_there_are_the_two_documented_examples() -> None:
    assert {p.name for p in EXAMPLE_DIRS} >= {"demo", "hybrid-teacher-training"}


@pytest.mark.parametrize("rules_dir", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_example_loads_and_passes_its_cases(rules_dir: Path) -> None:
    ruleset = load_rules(rules_dir)
    results = run_tests(rules_dir)
    assert results, "every example ships test cases"
    assert [r.name for r in results if not r.passed] == []
    tested = {r.name for r in results}
    assert len(tested) == len(results), "case names are unique"
    for badge in ruleset.badges.values():
        assert badge.image is not None and badge.image.is_file()
        width, height, _, _ = png.Reader(filename=str(badge.image)).read()
        assert (width, height) == (256, 256)
        assert badge.text("fr", "name") and badge.text("en", "name")


def test_demo_rules_are_the_pathway_and_the_meetup() -> None:
    ruleset = load_rules(EXAMPLES / "demo")
    assert list(ruleset.badges) == ["rencontre-snt", "snt-hybride"]
    assert ruleset.badges["snt-hybride"].condition == All((
        CourseCompleted("sandbox", "42"), ActivityCompleted("sandbox", "42", "503")))
    [presence] = ruleset.badges["rencontre-snt"].condition.children  # type: ignore[attr-defined]
    assert (presence.source, presence.course, presence.tags) == ("rencontres", "42", ("temps-de-rencontre",))


def test_hybrid_pathway_badge_comes_after_the_badges_it_needs() -> None:
    ruleset = load_rules(EXAMPLES / "hybrid-teacher-training")
    order = list(ruleset.badges)
    assert order[-1] == "snt-micro-certificat"
    assert ruleset.dependents("snt-mooc") == {"snt-micro-certificat"}
    assert ruleset.dependents("snt-micro-certificat") == set()
    pathway = ruleset.badges["snt-micro-certificat"]
    assert pathway.renewable and str(pathway.expires_after) == "P3Y"
    assert [a.framework for a in pathway.alignments] == ["CRCN", None]


def test_cli_check_lists_each_badge_on_one_line() -> None:
    result = CliRunner().invoke(rules, ["check", str(EXAMPLES / "demo"), "--lang", "en"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"rencontre-snt  «SNT meetup»  never expires  {EXAMPLES}/demo/rencontre-snt.toml",
        f"snt-hybride  «Hybrid SNT: pathway completed»  never expires  {EXAMPLES}/demo/snt-hybride.toml",
        "2 badges OK"]


def test_cli_check_exits_3_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[badge]\nid = 1\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text("[badge\n", encoding="utf-8")
    result = CliRunner().invoke(rules, ["check", str(tmp_path)])
    assert result.exit_code == 3
    assert f"{tmp_path}/a.toml:1: missing [condition] table" in result.output
    assert f"{tmp_path}/b.toml:1: invalid TOML: Expected ']' at the end of a table declaration" in result.output


def test_cli_test_exits_1_and_says_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text(
        '[badge]\nid = "b"\nname = "B"\ndescription = "B"\n'
        '[condition]\npresence = { source = "moodle", course = "42", tag = "meetup", at_least = 2 }\n',
        encoding="utf-8")
    (tmp_path / "b.test.toml").write_text(
        '[[case]]\nname = "one meetup is not enough"\nbadge = "b"\nexpect = "awarded"\n'
        'facts = [ { kind = "presence", source = "moodle", course = "42", session = "7", '
        'tags = ["meetup"] } ]\n', encoding="utf-8")
    result = CliRunner().invoke(rules, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"FAIL  {tmp_path}/b.test.toml:1  one meetup is not enough",
        "      expected awarded, got not awarded: at least 2 presences tagged meetup in course 42 "
        "on moodle: needs 2 presences tagged meetup, has 1",
        "0 passed, 1 failed"]
