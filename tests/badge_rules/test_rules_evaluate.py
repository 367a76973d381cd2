"""What a coordinator sees when a rule is evaluated: verdicts, provenance, explanations, expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badge_rules import Duration, RuleSet, load_rules, render_tree
from bridge.model import Fact, FactKind

D = datetime(2025, 10, 1, tzinfo=UTC)


def write_badge(tmp_path: Path, condition: str, extra: str = "", badge_id: str = "b") -> None:
    (tmp_path / f"{badge_id}.toml").write_text(
        f'[badge]\nid = "{badge_id}"\nname = "B"\ndescription = "B"\n{extra}\n{condition}',
        encoding="utf-8")


def rules_from(tmp_path: Path, condition: str, extra: str = "") -> RuleSet:
    write_badge(tmp_path, condition, extra)
    return load_rules(tmp_path)


def fact(kind: FactKind, course: str = "42", item: str = "", value: float | None = 1.0,
         day: int = 1, source: str = "moodle", **attrs) -> Fact:
    return Fact(source=source, external_id="u1", kind=kind, course=course, item=item,
                value=value, occurred_at=datetime(2025, 11, day, 10, tzinfo=UTC), attrs=attrs)


def test_grade_threshold_is_inclusive_and_explained(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, '[condition]\ngrade = { source = "moodle", course = "42", ">=" = 0.7 }\n')
    assert rs.evaluate("b", [fact(FactKind.grade, value=0.7)], {}).awarded
    decision = rs.evaluate("b", [fact(FactKind.grade, value=0.55)], {})
    assert not decision.awarded
    assert render_tree(decision.tree, "fr") == (
        # French: a non-breaking space before the percent sign, as CLDR writes it.
        "✗ note ≥ 70\u00a0% au cours 42 sur moodle — note requise ≥ 70\u00a0%, obtenue 55\u00a0%\n"
        "    · moodle · grade · 42 · 0.55 · 2025-11-01")


def test_presence_filters_by_tag_place_and_session_date(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, """[condition.presence]
source = "moodle"
course = "42"
tag = "meetup"
place = ["La Fabrique", "Le Lab"]
at_least = 2
from = 2025-09-01
until = 2025-12-31
""")
    good = [fact(FactKind.presence, item="s1", tags=["Meetup"], place="la fabrique",
                 session_date="2025-10-03"),
            fact(FactKind.presence, item="s2", tags=["meetup", "snt"], place="Le Lab",
                 session_date="2025-12-31T18:00:00")]
    assert rs.evaluate("b", good, {}).awarded
    wrong_place = fact(FactKind.presence, item="s2", tags=["meetup"], place="Ailleurs")
    too_late = fact(FactKind.presence, item="s2", tags=["meetup"], place="Le Lab",
                    session_date="2026-01-01")
    untagged = fact(FactKind.presence, item="s2", tags=["webinaire"], place="Le Lab")
    for spoiler in (wrong_place, too_late, untagged):
        decision = rs.evaluate("b", [good[0], spoiler], {})
        assert not decision.awarded
        assert decision.tree.missing("en") == (
            "needs 2 presences tagged meetup at la fabrique or le lab between Sep 1, 2025 and "
            "Dec 31, 2025, has 1")


def test_provenance_lists_supporting_facts_only_in_a_stable_order(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, """[condition]
all = [
  { course_completed = { source = "moodle", course = "42" } },
  { any = [
      { activity_completed = { source = "moodle", course = "42", activity = "503" } },
      { enrolled = { source = "fun", course = "x" } },
  ] },
  { not = { certificate_earned = { source = "moodle", course = "42" } } },
]
""")
    facts = [fact(FactKind.activity_completion, item="503", day=3),
             fact(FactKind.activity_completion, item="999", day=2),
             fact(FactKind.course_completion, day=5),
             fact(FactKind.enrolment, source="fun", course="x", value=0.0)]
    decision = rs.evaluate("b", facts, {})
    assert decision.awarded
    assert [(f.kind, f.item) for f in decision.provenance] == [
        ("activity_completion", "503"), ("course_completion", "")]
    assert decision.earned_at == datetime(2025, 11, 5, 10, tzinfo=UTC)
    assert rs.evaluate("b", list(reversed(facts)), {}).to_dict() == decision.to_dict()
    assert render_tree(rs.evaluate("b", facts[1:2], {}).tree) == (
        "✗ all of the following — needs all 3, has 1\n"
        "  ✗ completed course 42 on moodle — no completion recorded\n"
        "  ✗ any of the following — needs 1 of 2, has 0\n"
        "    ✗ activity 503 completed in course 42 on moodle — no completion recorded\n"
        "    ✗ enrolled in course x on fun — no enrolment recorded\n"
        "  ✓ not the following\n"
        "    ✗ certificate earned in course 42 on moodle — no certificate recorded")
    document = json.loads(json.dumps(decision.to_dict()))
    assert document["tree"]["children"][2]["label"]["fr"] == "pas la condition suivante"


def test_badge_held_respects_fact_between_on_the_issue_date(tmp_path: Path) -> None:
    write_badge(tmp_path, '[condition.fact_between]\nfrom = 2025-09-01\n'
                          'badge_held = { badges = ["a", "c"], at_least = 2 }\n')
    for other in ("a", "c"):
        write_badge(tmp_path, '[condition]\nenrolled = { source = "moodle", course = "42" }\n',
                    badge_id=other)
    rs = load_rules(tmp_path)
    assert list(rs.badges) == ["a", "c", "b"]
    assert rs.dependents("a") == {"b"}
    assert rs.evaluate("b", [], {"a": D, "c": D}).awarded
    assert not rs.evaluate("b", [], {"a": D, "c": datetime(2025, 8, 31, tzinfo=UTC)}).awarded
    chained = rs.evaluate_all([fact(FactKind.enrolment)], {})
    assert [d.awarded for d in chained.values()] == [True, True, True]


def test_renewal_period_counts_only_facts_since_it_began(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, '[condition]\ncourse_completed = { source = "moodle", course = "42" }\n',
                    extra='expires_after = "P1Y"\nrenewable = true\n')
    old = [fact(FactKind.course_completion, day=1)]
    assert rs.evaluate("b", old, {}).awarded
    assert not rs.evaluate("b", old, {}, since=datetime(2026, 11, 1, tzinfo=UTC)).awarded


@pytest.mark.parametrize(("duration", "issued", "expires"), [
    ("P2Y", datetime(2024, 2, 29, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
    ("P1M", datetime(2025, 1, 31, 9, tzinfo=UTC), datetime(2025, 2, 28, 9, tzinfo=UTC)),
    ("P1Y6M", datetime(2025, 9, 15, tzinfo=UTC), datetime(2027, 3, 15, tzinfo=UTC)),
    ("P2W", datetime(2025, 12, 25, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC)),
    (90, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
])
def test_expiry_follows_the_calendar(tmp_path: Path, duration: object, issued: datetime,
                                     expires: datetime) -> None:
    value = f'"{duration}"' if isinstance(duration, str) else duration
    rs = rules_from(tmp_path, '[condition]\nenrolled = { source = "moodle", course = "42" }\n',
                    extra=f"expires_after = {value}\n")
    assert rs.badges["b"].expiry_from(issued) == expires


def test_missing_criteria_is_written_from_the_condition(tmp_path: Path) -> None:
    rs = rules_from(tmp_path, """[condition]
at_least = 1
of = [
  { course_completed = { source = "moodle", course = "42" } },
  { certificate_earned = { source = "fun", course = "x" } },
]
""")
    badge = rs.badges["b"]
    assert badge.text("fr", "criteria") == (
        "- au moins 1 des conditions suivantes\n"
        "  - cours 42 terminé sur moodle\n"
        "  - attestation obtenue au cours x sur fun")
    assert badge.text("de", "criteria").startswith("- au moins 1")
    assert badge.expiry_from(D) is None
    assert str(Duration(days=0)) == "P0D"
