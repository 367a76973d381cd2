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

from .evaluate import _DONE_KINDS, FactIndex, _compare, _done, _fact_tags, _session_moment
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
            kind, inside = _DONE_KINDS[type(node)], _in(window)
            return lambda index, held: any(
                _done(f) and inside(f) for f in index.get(source, kind, course))
        case ActivityCompleted(source, course, activity):
            inside = _in(window)
            return lambda index, held: any(
                f.item == activity and _done(f) and inside(f)
                for f in index.get(source, FactKind.activity_completion, course))
        case Grade(source, course, op, threshold, activity):
            inside = _in(window)
            return lambda index, held: any(
                f.item == activity and f.value is not None and inside(f)
                and _compare(f.value, op, threshold)
                for f in index.get(source, FactKind.grade, course))
        case Presence():
            return _presence(node, window)
        case BadgeHeld(badges, count):
            def badge_held(index: FactIndex, held: Mapping[str, datetime]) -> bool:
                return sum(1 for b in badges if b in held
                           and (window is None or window.contains(held[b]))) >= count
            return badge_held
    raise TypeError(f"not a condition node: {node!r}")


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
    inside, sessions, tags = _in(window), set(node.sessions), set(node.tags)

    def counts(fact: Fact) -> bool:
        return (_done(fact) and inside(fact)
                and (not sessions or fact.item in sessions)
                and (not tags or not tags.isdisjoint(_fact_tags(fact)))
                and (not node.places or str(fact.attrs.get("place", "")).casefold() in node.places)
                and (node.window is None or node.window.contains(_session_moment(fact))))

    def presence(index: FactIndex, held: Mapping[str, datetime]) -> bool:
        found = [f for f in index.get(node.source, FactKind.presence, node.course) if counts(f)]
        # The same session seen twice (an LMS record and a sign-in sheet) is one presence.
        distinct = len({f.item for f in found if f.item}) + sum(1 for f in found if not f.item)
        return distinct >= node.at_least
    return presence
