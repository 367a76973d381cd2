"""Evaluation of a condition tree against one learner's facts: pure, deterministic, indexed.

Facts are indexed once by (source, kind, course); every predicate then reads one short list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache

from bridge.model import NAME_ATTRS, Fact, FactKind

from .explain import BADGE_SOURCE, ExplainNode, FactRef
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

__all__ = ["FactIndex", "evaluate_node"]

_Key = tuple[str, FactKind, str]
_DONE_KINDS: dict[type, FactKind] = {
    CourseCompleted: FactKind.course_completion,
    CertificateEarned: FactKind.certificate,
    Enrolled: FactKind.enrolment,
}


class FactIndex:
    """One learner's facts grouped by (source, kind, course); `since` drops older facts."""

    def __init__(self, facts: Iterable[Fact], since: datetime | None = None) -> None:
        by_key: dict[_Key, list[Fact]] = {}
        if since is not None:  # a renewal period only counts what happened after it began
            facts = [f for f in facts if f.occurred_at is not None and f.occurred_at >= since]
        for fact in facts:
            key = (fact.source, fact.kind, fact.course)
            found = by_key.get(key)
            if found is None:
                by_key[key] = [fact]
            else:
                found.append(fact)
        self._by_key = by_key

    def get(self, source: str, kind: FactKind, course: str) -> list[Fact]:
        return self._by_key.get((source, kind, course), [])


def evaluate_node(node: Node, index: FactIndex, held: Mapping[str, datetime],
                  window: Window | None = None) -> ExplainNode:
    """The whole tree evaluated (no short-circuit), so the explanation shows every leaf."""
    match node:
        case All(children) | AnyOf(children) | AtLeast(_, children):
            kids = tuple(evaluate_node(c, index, held, window) for c in children)
            true = sum(k.value for k in kids)
            need = len(kids) if isinstance(node, All) else getattr(node, "count", 1)
            return ExplainNode(node, true >= need, children=kids, observed=true)
        case Not(child):
            kid = evaluate_node(child, index, held, window)
            return ExplainNode(node, not kid.value, children=(kid,))
        case FactBetween(inner, child):
            kid = evaluate_node(child, index, held, inner if window is None else window.intersect(inner))
            return ExplainNode(node, kid.value, children=(kid,))
        case CourseCompleted() | CertificateEarned() | Enrolled():
            found = _matching(index.get(node.source, _DONE_KINDS[type(node)], node.course), window)
            return ExplainNode(node, bool(found), _refs(found))
        case ActivityCompleted(source, course, activity):
            found = [f for f in _matching(index.get(source, FactKind.activity_completion, course),
                                          window) if f.item == activity]
            return ExplainNode(node, bool(found), _refs(found))
        case Grade():
            return _grade(node, index, window)
        case Presence():
            return _presence(node, index, window)
        case BadgeHeld(badges, at_least):
            holds = [FactRef(BADGE_SOURCE, "badge", "", b, None, held[b]) for b in badges
                     if b in held and (window is None or window.contains(held[b]))]
            return ExplainNode(node, len(holds) >= at_least, tuple(holds), observed=len(holds))
    raise TypeError(f"not a condition node: {node!r}")


def _done(fact: Fact) -> bool:
    # value 0 means the source recorded "not completed" / "absent"; None means just "happened".
    return fact.value is None or fact.value > 0


def _matching(facts: list[Fact], window: Window | None) -> list[Fact]:
    return [f for f in facts if _done(f) and (window is None or window.contains(f.occurred_at))]


def _refs(facts: Iterable[Fact]) -> tuple[FactRef, ...]:
    refs = {FactRef(f.source, f.kind.value, f.course, f.item, f.value, f.occurred_at,
                    tuple((k, v) for k in NAME_ATTRS if isinstance(v := f.attrs.get(k), str) and v))
            for f in facts}
    return tuple(sorted(refs, key=FactRef.sort_key))


def _compare(value: float, op: str, threshold: float) -> bool:
    if op == ">=":
        return value >= threshold - 1e-9
    if op == ">":
        return value > threshold + 1e-9
    if op == "<=":
        return value <= threshold + 1e-9
    if op == "<":
        return value < threshold - 1e-9
    return abs(value - threshold) <= 1e-9


def _grade(node: Grade, index: FactIndex, window: Window | None) -> ExplainNode:
    grades = [f for f in index.get(node.source, FactKind.grade, node.course)
              if f.item == node.activity and f.value is not None
              and (window is None or window.contains(f.occurred_at))]
    passing = [f for f in grades if _compare(f.value or 0.0, node.op, node.threshold)]
    best = max((f.value or 0.0 for f in grades), default=None)
    # A failing leaf shows the grades it saw, so "has 55%" comes with its fact.
    return ExplainNode(node, bool(passing), _refs(passing or grades), observed=best)


def _session_moment(fact: Fact) -> datetime | None:
    raw = fact.attrs.get("session_date")
    moment = _moment(raw) if isinstance(raw, str) else None
    return fact.occurred_at if moment is None else moment


@lru_cache(maxsize=4096)
def _moment(raw: str) -> datetime | None:
    """A session date as written in a fact's attributes (a few hundred distinct values)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fact_tags(fact: Fact) -> set[str]:
    tags = fact.attrs.get("tags", [])
    if isinstance(tags, str):
        return {tags.casefold()}
    return {t.casefold() for t in tags} if isinstance(tags, list) else set()


def _presence(node: Presence, index: FactIndex, window: Window | None) -> ExplainNode:
    found = []
    for fact in _matching(index.get(node.source, FactKind.presence, node.course), window):
        if node.sessions and fact.item not in node.sessions:
            continue
        if node.tags and not _fact_tags(fact) & set(node.tags):
            continue
        if node.places and str(fact.attrs.get("place", "")).casefold() not in node.places:
            continue
        if node.window and not node.window.contains(_session_moment(fact)):
            continue
        found.append(fact)
    # The same session seen twice (an LMS record and a sign-in sheet) is one presence.
    sessions = len({f.item for f in found if f.item}) + sum(1 for f in found if not f.item)
    return ExplainNode(node, sessions >= node.at_least, _refs(found), observed=sessions)
