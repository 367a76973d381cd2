"""Every kind of rule mistake is reported as `file:line: what was expected`, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from badge_rules import load_rules, run_tests
from bridge.errors import RuleError

HEADER = """\
[badge]
id = "{id}"
name = {{ fr = "Badge {id}", en = "Badge {id}" }}
description = "Pour les tests / for tests"
"""

SOURCES: dict[str, set[str] | None] = {"moodle": {"42", "43"}, "fun": None}


def write(rules_dir: Path, name: str, condition: str, badge_id: str = "b", extra: str = "") -> None:
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / name).write_text(HEADER.format(id=badge_id) + extra + condition,
                                  encoding="utf-8")


def problems(rules_dir: Path, sources: dict[str, set[str] | None] | None = None) -> list[str]:
    with pytest.raises(RuleError) as caught:
        load_rules(rules_dir, sources)
    return [RuleError.format_one(p).replace(f"{rules_dir}/", "") for p in caught.value.problems]


def test_unknown_predicate_suggests_the_right_word(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
all = [
  { course_completed = { source = "moodle", course = "42" } },
  { course_complete = { source = "moodle", course = "42" } },
]
""")
    assert problems(tmp_path) == [
        "b.toml:8: condition.all[1].course_complete: unknown condition 'course_complete' "
        "(did you mean 'course_completed'?); expected one of: all, any, not, at_least, "
        "course_completed, grade, activity_completed, certificate_earned, enrolled, presence, "
        "badge_held, fact_between"]


def test_missing_key_names_the_predicate_and_the_key(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
all = [
  { enrolled = { source = "moodle", course = "42" } },
  { activity_completed = { source = "moodle", course = "42" } },
]
""")
    assert problems(tmp_path) == [
        "b.toml:8: condition.all[1].activity_completed: missing key 'activity'"]


def test_wrong_type_for_a_count(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition.presence]
source = "moodle"
course = "42"
at_least = "2"
""")
    assert problems(tmp_path) == [
        'b.toml:8: condition.presence.at_least: expected a whole number of at least 1, got "2"']


def test_grade_without_a_comparison(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
grade = { source = "moodle", course = "42", min = 0.7 }
""")
    assert problems(tmp_path) == [
        "b.toml:6: condition.grade.min: unknown key 'min'; expected one of: source, course, "
        "activity, >=, >, <=, <, ==",
        'b.toml:6: condition.grade: expected exactly one comparison among >=, >, <=, <, ==, '
        'such as ">=" = 0.7']


def test_grade_given_as_a_percentage(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
grade = { source = "moodle", course = "42", ">=" = 70 }
""")
    assert problems(tmp_path) == [
        "b.toml:6: condition.grade.>=: expected a fraction between 0 and 1 (0.7 for 70%), got 70"]


def test_badge_held_on_unknown_badge(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n',
          badge_id="snt-mooc")
    write(tmp_path, "b.toml", '[condition]\nbadge_held = { badge = "snt-moc" }\n')
    assert problems(tmp_path) == [
        "b.toml:6: condition.badge_held.badge: unknown badge 'snt-moc' "
        "(did you mean 'snt-mooc'?); known badges: b, snt-mooc"]


def test_cycle_between_badge_held_rules(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[condition]\nbadge_held = { badge = "b" }\n', badge_id="a")
    write(tmp_path, "b.toml", """[condition]
any = [
  { enrolled = { source = "fun", course = "x" } },
  { badge_held = { badges = ["c", "a"], at_least = 1 } },
]
""")
    write(tmp_path, "c.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n',
          badge_id="c")
    assert problems(tmp_path) == [
        "a.toml:6: condition.badge_held.badge: cycle between badges a -> b -> a"]


def test_every_cycle_is_reported_once_each_from_its_first_badge(tmp_path: Path) -> None:
    for badge, needs in {"a": "b", "b": "c", "c": "a", "d": "e", "e": "d"}.items():
        write(tmp_path, f"{badge}.toml", f'[condition]\nbadge_held = {{ badge = "{needs}" }}\n',
              badge_id=badge)
    assert sorted(problems(tmp_path)) == [
        "a.toml:6: condition.badge_held.badge: cycle between badges a -> b -> c -> a",
        "d.toml:6: condition.badge_held.badge: cycle between badges d -> e -> d"]


def test_duplicate_badge_id(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n',
          badge_id="same")
    write(tmp_path, "b.toml", '[condition]\nenrolled = { source = "fun", course = "y" }\n',
          badge_id="same")
    assert problems(tmp_path) == [
        "b.toml:2: badge.id: 'same' is already defined in a.toml:2"]


def test_bad_duration_and_renewable_without_expiry(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n',
          extra='expires_after = "2 years"\n')
    write(tmp_path, "c.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n',
          badge_id="c", extra="renewable = true\n")
    assert problems(tmp_path) == [
        'b.toml:5: badge.expires_after: expected an ISO-8601 duration such as "P2Y", "P6M", '
        'or "P90D", or a number of days, got "2 years"',
        "c.toml:5: badge.renewable: a renewable badge needs expires_after (when to renew)"]


def test_bad_dates(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
all = [
  { presence = { source = "moodle", course = "42", from = "01/09/2025" } },
  { fact_between = { from = 2026-01-01, until = 2025-09-01, enrolled = { source = "moodle", course = "42" } } },
]
""")
    assert problems(tmp_path) == [
        'b.toml:7: condition.all[0].presence.from: expected a date such as 2025-09-01 '
        '(year-month-day), got "01/09/2025"',
        "b.toml:8: condition.all[1].fact_between.until: expected a date after 'from'"]


def test_invalid_toml_reports_its_line(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", '[condition]\nenrolled = { source = "fun", course = "x" \n')
    assert problems(tmp_path) == [
        "b.toml:6: invalid TOML: Unclosed inline table"]


def test_unknown_source_and_course_when_sources_are_configured(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
all = [
  { course_completed = { source = "moodel", course = "42" } },
  { course_completed = { source = "moodle", course = 44 } },
  { course_completed = { source = "fun", course = "any-course-is-fine" } },
]
""")
    assert problems(tmp_path, SOURCES) == [
        "b.toml:7: condition.all[0].course_completed.source: unknown source 'moodel' "
        "(did you mean 'moodle'?); configured sources: fun, moodle",
        "b.toml:8: condition.all[1].course_completed.course: unknown course '44' on source "
        "'moodle'; known courses: 42, 43"]


def test_at_least_more_than_its_conditions_and_two_conditions_in_one_table(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", """[condition]
at_least = 3
of = [
  { enrolled = { source = "fun", course = "x" }, certificate_earned = { source = "fun", course = "x" } },
  { enrolled = { source = "fun", course = "y" } },
]
""")
    assert problems(tmp_path) == [
        "b.toml:8: condition.of[0]: expected one condition (all, any, not, at_least, "
        "course_completed, grade, activity_completed, certificate_earned, enrolled, presence, "
        "badge_held, fact_between), got enrolled, certificate_earned; "
        "put several conditions in all = [ … ]"]


def test_badge_metadata_mistakes_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text("""[badge]
id = "SNT Mooc"
name = { fr = "MOOC", de = "MOOC" }
image = "images/missing.png"
colour = "blue"

[[badge.alignment]]
name = "CRCN"
url = "eduscol.education.fr"

[condition]
enrolled = { source = "fun", course = "x" }
""", encoding="utf-8")
    assert problems(tmp_path) == [
        "b.toml:5: badge.colour: unknown key 'colour'; expected one of: id, name, description, "
        "criteria, image, tags, expires_after, renewable, alignment",
        "b.toml:1: badge: missing key 'description'",
        "b.toml:2: badge.id: expected an id of lower-case letters, digits, '-' or '_' such as "
        '"snt-mooc", got "SNT Mooc"',
        'b.toml:3: badge.name: expected text, or a table such as { fr = "…", en = "…" }, '
        "got a table",
        "b.toml:4: badge.image: image file not found: images/missing.png "
        "(relative to this rules file)",
        "b.toml:9: badge.alignment[0].url: expected a web address starting with https://, "
        'got "eduscol.education.fr"']


def test_problems_from_every_file_are_collected_before_failing(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", "[condition]\nnot = 3\n", badge_id="a")
    write(tmp_path, "b.toml", "")
    assert problems(tmp_path) == [
        "a.toml:6: condition.not: expected a table such as { course_completed = { source = "
        '"moodle", course = "42" } }, got 3',
        "b.toml:1: missing [condition] table"]


def test_a_broken_test_case_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "b.toml", '[condition]\nenrolled = { source = "fun", course = "x" }\n')
    (tmp_path / "b.test.toml").write_text("""[[case]]
name = "typo in a fact"
badge = "b"
expect = "awarded"
facts = [
  { kind = "enrolled", source = "fun", course = "x" },
  { kind = "enroled", source = "fun", course = "x" },
]
""", encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        run_tests(tmp_path)
    assert str(caught.value) == (
        f'{tmp_path}/b.test.toml:7: case[0].facts[1].kind: unknown kind "enroled"; expected '
        "one of: course_completed, activity_completed, certificate_earned, enrolled, grade, "
        "presence")


def test_a_bad_list_item_and_a_file_that_is_not_text(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[condition]\npresence = { source = "moodle", course = "42", '
                              'tag = ["meetup", 3.5], session = [] }\n', badge_id="a")
    (tmp_path / "b.toml").write_bytes(b"[badge]\nid = \"\xe9t\xe9\"\n")
    assert problems(tmp_path) == [
        "a.toml:6: condition.presence.session: expected at least one value",
        'a.toml:6: condition.presence.tag[1]: expected an id such as "42", got 3.5',
        "b.toml:2: expected UTF-8 text"]
