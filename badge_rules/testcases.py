"""Rule test cases (`*.test.toml` beside the rules): given facts, a badge is or is not awarded.

They let a coordinator check a rule on made-up learners before any real run uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.errors import RuleError
from bridge.i18n import gettext as _
from bridge.model import AttrValue, Fact, FactKind
from bridge.tomlloc import Locator

from .explain import Decision
from .parser import Problem, TomlFile, dotted, read_toml
from .ruleset import RuleSet, load_rules
from .values import read_moment, shown

__all__ = ["TestResult", "run_tests", "FACT_KINDS"]

# The words a test fact may use for its kind: the predicate's name or the stored kind.
FACT_KINDS: dict[str, FactKind] = {
    "course_completed": FactKind.course_completion,
    "activity_completed": FactKind.activity_completion,
    "certificate_earned": FactKind.certificate,
    "enrolled": FactKind.enrolment,
    "grade": FactKind.grade,
    "presence": FactKind.presence,
    **{kind.value: kind for kind in FactKind},
}
_CASE_KEYS = ("name", "badge", "expect", "held", "since", "facts")
_FACT_KEYS = ("kind", "source", "course", "activity", "session", "item", "value", "status",
              "date", "tags", "place", "title")
_EXPECT = {"awarded": True, "not_awarded": False}
_LEARNER = "test-learner"


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # a result, not a pytest test class

    name: str
    file: str
    line: int | None
    passed: bool
    message: str


@dataclass(frozen=True, slots=True)
class _Case:
    name: str
    file: str
    line: int | None
    badge: str
    expect: bool
    held: dict[str, datetime]
    since: datetime | None
    facts: tuple[Fact, ...]


def run_tests(rules_dir: str | Path) -> list[TestResult]:
    """Load the rules, then run every case of every `*.test.toml` file, in file order.

    Raises RuleError if a rule or a test file is invalid (all problems at once).
    """
    rules_dir = Path(rules_dir)
    rules = load_rules(rules_dir)
    cases: list[_Case] = []
    problems: list[Problem] = []
    for path in sorted(rules_dir.glob("*.test.toml")):
        _read_cases(path, rules, cases, problems)
    if problems:
        raise RuleError(problems)
    return [_run(case, rules) for case in cases]


def _run(case: _Case, rules: RuleSet) -> TestResult:
    decision = rules.evaluate(case.badge, case.facts, case.held, since=case.since)
    passed = decision.awarded == case.expect
    return TestResult(case.name, case.file, case.line, passed, _message(decision, case.expect))


def _message(decision: Decision, expected: bool) -> str:
    """The verdict, and when it is not the expected one, why (in the language in force)."""
    if decision.awarded == expected:
        return _("awarded") if decision.awarded else _("not awarded")
    if decision.awarded:
        return _("expected not awarded, but awarded by: {facts}").format(
            facts="; ".join(map(str, decision.provenance)))
    lacking = [_("{condition}: {missing}").format(condition=n.label(), missing=n.missing())
               for n in decision.tree.walk() if not n.value and not n.children]
    return _("expected awarded, got not awarded: {lacking}").format(
        lacking="; ".join(lacking) or _("a negation holds"))


class _CaseReader:
    def __init__(self, path: Path, locator: Locator, rules: RuleSet,
                 problems: list[Problem]) -> None:
        self.file, self.locator, self.rules, self.problems = str(path), locator, rules, problems

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        prefix = f"{dotted(path)}: " if path else ""
        self.problems.append((self.file, self.locator.line(path), prefix + message))

    def unknown_key(self, path: tuple[str | int, ...], key: str, allowed: tuple[str, ...]) -> None:
        self.fail(path, _("unknown key '{key}'{hint}; expected one of: {allowed}").format(
            key=key, hint="", allowed=", ".join(allowed)))

    def unknown_badge(self, path: tuple[str | int, ...], badge: Any) -> None:
        self.fail(path, _("unknown badge '{badge}'{hint}; known badges: {known}").format(
            badge=badge, hint="", known=", ".join(self.rules.badges) or _("none")))

    def case(self, raw: Any, i: int) -> _Case | None:
        p: tuple[str | int, ...] = ("case", i)
        if not isinstance(raw, dict):
            self.fail(p, _("expected a {table} table").format(table="[[case]]"))
            return None
        before = len(self.problems)
        for key in raw:
            if key not in _CASE_KEYS:
                self.unknown_key(p + (key,), key, _CASE_KEYS)
        for key in ("name", "badge", "expect"):
            if key not in raw:
                self.fail(p, _("missing key '{key}'").format(key=key))
        if raw.get("badge") is not None and raw.get("badge") not in self.rules.badges:
            self.unknown_badge(p + ("badge",), raw["badge"])
        if "expect" in raw and raw["expect"] not in _EXPECT:
            self.fail(p + ("expect",), _("expected {one} or {other}, got {value}").format(
                one='"awarded"', other='"not_awarded"', value=shown(raw["expect"])))
        held = self.held(raw.get("held", []), p + ("held",))
        since = self.moment(raw["since"], p + ("since",)) if "since" in raw else None
        facts = self.facts(raw.get("facts", []), p + ("facts",))
        if len(self.problems) > before or held is None or facts is None:
            return None
        return _Case(str(raw["name"]), self.file, self.locator.line(p), raw["badge"],
                     _EXPECT[raw["expect"]], held, since, facts)

    def moment(self, value: Any, path: tuple[str | int, ...]) -> datetime | None:
        try:
            return read_moment(value)
        except ValueError as exc:
            self.fail(path, _("{expected}, got {value}").format(expected=exc, value=shown(value)))
            return None

    def held(self, value: Any, path: tuple[str | int, ...]) -> dict[str, datetime] | None:
        # A list means "held, date unknown": it counts, but inside no date window.
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = dict.fromkeys(value, "0001-01-01")
        if not isinstance(value, dict):
            self.fail(path, _("expected a list of badge ids, or a table {example}").format(
                example="{ badge-id = 2025-06-01 }"))
            return None
        held = {}
        for badge, date in value.items():
            if badge not in self.rules.badges:
                self.unknown_badge(path, badge)
            moment = self.moment(date, path + (badge,))
            if moment is not None:
                held[badge] = moment
        return held if len(held) == len(value) else None

    def facts(self, value: Any, path: tuple[str | int, ...]) -> tuple[Fact, ...] | None:
        if not isinstance(value, list):
            self.fail(path, _("expected a list of facts {example}").format(
                example='[ { kind = "…", … }, … ]'))
            return None
        facts = [self.fact(v, path + (i,)) for i, v in enumerate(value)]
        return None if None in facts else tuple(f for f in facts if f is not None)

    def fact(self, raw: Any, path: tuple[str | int, ...]) -> Fact | None:
        if not isinstance(raw, dict):
            self.fail(path, _("expected a fact such as {example}").format(
                example='{ kind = "course_completed", source = "moodle", course = "42" }'))
            return None
        before = len(self.problems)
        for key in raw:
            if key not in _FACT_KEYS:
                self.unknown_key(path + (key,), key, _FACT_KEYS)
        for key in ("kind", "source", "course"):
            if key not in raw:
                self.fail(path, _("missing key '{key}'").format(key=key))
        kind = FACT_KINDS.get(str(raw.get("kind")))
        if "kind" in raw and kind is None:
            self.fail(path + ("kind",), _("unknown kind {kind}; expected one of: {allowed}").format(
                kind=shown(raw["kind"]), allowed=", ".join(list(FACT_KINDS)[:6])))
        if kind is FactKind.grade and "value" not in raw:
            self.fail(path, _("a grade needs {example}").format(example="value = 0.0 … 1.0"))
        date = self.moment(raw["date"], path + ("date",)) if "date" in raw else None
        value = raw.get("value", 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path + ("value",), _("invalid fact: {key} {value} is not a number").format(
                key="value", value=shown(value)))
        for key in ("status", "place", "title"):
            if key in raw and not isinstance(raw[key], str):
                self.fail(path + (key,), _("invalid fact: {key} {value} is not a string").format(
                    key=key, value=shown(raw[key])))
        tags = raw.get("tags", [])
        if not isinstance(tags, str) and not (isinstance(tags, list)
                                              and all(isinstance(t, str) for t in tags)):
            self.fail(path + ("tags",), _("invalid fact: {key} {value} is not a list of words").format(
                key="tags", value=shown(tags)))
        if len(self.problems) > before or kind is None:
            return None
        attrs: dict[str, AttrValue] = {k: raw[k] for k in ("tags", "place", "title") if k in raw}
        if kind is FactKind.presence and date is not None:
            attrs["session_date"] = date.isoformat()
        return Fact(source=str(raw["source"]), external_id=_LEARNER, kind=kind,
                    course=str(raw["course"]),
                    item=str(raw.get("activity", raw.get("session", raw.get("item", "")))),
                    value=float(value), status=raw.get("status", ""), occurred_at=date, attrs=attrs)


def _read_cases(path: Path, rules: RuleSet, cases: list[_Case], problems: list[Problem]) -> None:
    read = read_toml(path)
    if not isinstance(read, TomlFile):
        problems.append(read)
        return
    data = read.data
    reader = _CaseReader(path, read.locator, rules, problems)
    raw_cases = data.get("case")
    if set(data) - {"case"} or not isinstance(raw_cases, list):
        reader.fail((), _("expected only {tables} tables").format(tables="[[case]]"))
        return
    for i, raw in enumerate(raw_cases):
        case = reader.case(raw, i)
        if case is not None:
            cases.append(case)

