"""The yes/no verdict of a condition tree, compiled once into nested closures.

A run asks "does this learner now hold the badge?" for thousands of learners, and wants the
explanation only for those who do. `evaluate.py` builds the whole explained tree (every leaf,
its facts, sorted); this module answers the question alone, short-circuiting, with windows
resolved when the tree is compiled. Both give the same verdict: a property test checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from bridge.model import Fact, FactKind

from .evaluate import _DONE_KINDS, FactIndex, _compare, _session_moment
from .nodes import (
    ActivityCompleted,
    All,
    AnyOf,
    AtLeast,
    BadgeHeld,
    CertificateEarned,
    CourseCompleted,
    Enrolled,
    FactBetween,
    Grade,
    Node,
    Not,
    Presence,
    Window,
)

__all__ = ["Check", "compile_condition"]

Check = Callable[[FactIndex, Mapping[str, datetime]], bool]


def _in(window: Window | None) -> Callable[[Fact], bool]:
    if window is None:
        return lambda fact: True
    return lambda fact: window.contains(fact.occurred_at)


def compile_condition(node: Node, window: Window | None = None) -> Check:
    """A function of (facts, held badges) giving the same verdict as `evaluate_node`."""
    match node:
        case All(children):
            return _all([compile_condition(c, window) for c in children])
        case AnyOf(children):
            return _any([compile_condition(c, window) for c in children])
        case AtLeast(count, children):
            checks = [compile_condition(c, window) for c in children]

            def at_least(index: FactIndex, held: Mapping[str, datetime]) -> bool:
                true = 0
                for left, check in enumerate(checks):
                    if true + (len(checks) - left) < count:
                        return False
                    true += check(index, held)
                    if true >= count:
                        return True
                return true >= count
            return at_least
        case Not(child):
            inner = compile_condition(child, window)
            return lambda index, held: not inner(index, held)
        case FactBetween(between, child):
            return compile_condition(child, between if window is None else window.intersect(between))
        case CourseCompleted(source, course) | CertificateEarned(source, course) | Enrolled(source, course):
            return _facts_any(source, _DONE_KINDS[type(node)], course, window, lambda f: True)
        case ActivityCompleted(source, course, activity):
            return _facts_any(source, FactKind.activity_completion, course, window,
                              lambda f: f.item == activity)
        case Grade(source, course, op, threshold, activity):
            inside = _in(window)  # a grade counts whatever its value: no "done" test

            def grade(index: FactIndex, held: Mapping[str, datetime]) -> bool:
                for f in index.get(source, FactKind.grade, course):
                    if (f.item == activity and f.value is not None and inside(f)
                            and _compare(f.value, op, threshold)):
                        return True
                return False
            return grade
        case Presence():
            return _presence(node, window)
        case BadgeHeld(badges, count):
            if window is None and count == 1:
                return lambda index, held: any(b in held for b in badges)

            def badge_held(index: FactIndex, held: Mapping[str, datetime]) -> bool:
                return sum(1 for b in badges if b in held
                           and (window is None or window.contains(held[b]))) >= count
            return badge_held
    raise TypeError(f"not a condition node: {node!r}")


def _facts_any(source: str, kind: FactKind, course: str, window: Window | None,
               test: Callable[[Fact], bool]) -> Check:
    """Some fact of (source, kind, course) is done, inside the window and passes `test`."""
    if window is None:
        def found(index: FactIndex, held: Mapping[str, datetime]) -> bool:
            for f in index.get(source, kind, course):
                if (f.value is None or f.value > 0) and test(f):
                    return True
            return False
        return found

    def found_inside(index: FactIndex, held: Mapping[str, datetime]) -> bool:
        for f in index.get(source, kind, course):
            if (f.value is None or f.value > 0) and window.contains(f.occurred_at) and test(f):
                return True
        return False
    return found_inside


def _all(checks: list[Check]) -> Check:
    if len(checks) == 2:
        first, second = checks
        return lambda index, held: first(index, held) and second(index, held)

    def every(index: FactIndex, held: Mapping[str, datetime]) -> bool:
        for check in checks:
            if not check(index, held):
                return False
        return True
    return every


def _any(checks: list[Check]) -> Check:
    if len(checks) == 2:
        first, second = checks
        return lambda index, held: first(index, held) or second(index, held)

    def some(index: FactIndex, held: Mapping[str, datetime]) -> bool:
        for check in checks:
            if check(index, held):
                return True
        return False
    return some


def _presence(node: Presence, window: Window | None) -> Check:
    sessions, tags, places, session_window = set(node.sessions), set(node.tags), node.places, node.window
    # Only the tests the node asks for, in one function (the hot path of meetup badges).
    tests: list[Callable[[Fact], bool]] = []
    if window is not None:
        tests.append(lambda fact: window.contains(fact.occurred_at))
    if sessions:
        tests.append(lambda fact: fact.item in sessions)
    if tags:
        tests.append(lambda fact: _has_tag(fact, tags))
    if places:
        tests.append(lambda fact: str(fact.attrs.get("place", "")).casefold() in places)
    if session_window is not None:
        tests.append(lambda fact: session_window.contains(_session_moment(fact)))

    def counts(fact: Fact) -> bool:
        if not (fact.value is None or fact.value > 0):
            return False
        for test in tests:
            if not test(fact):
                return False
        return True

    def presence(index: FactIndex, held: Mapping[str, datetime]) -> bool:
        found = [f for f in index.get(node.source, FactKind.presence, node.course) if counts(f)]
        # The same session seen twice (an LMS record and a sign-in sheet) is one presence.
        distinct = len({f.item for f in found if f.item}) + sum(1 for f in found if not f.item)
        return distinct >= node.at_least
    return presence


def _has_tag(fact: Fact, tags: set[str]) -> bool:
    """`_fact_tags(fact)` meets `tags`, without building the set."""
    raw = fact.attrs.get("tags", [])
    if isinstance(raw, str):
        return raw.casefold() in tags
    return isinstance(raw, list) and any(str(t).casefold() in tags for t in raw)
