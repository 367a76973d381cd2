"""Why a badge was or was not awarded: the evaluated tree, its provenance, and its words.

Texts come from the catalogs (bridge.i18n), built only when asked for (render, to_dict) in the
language asked for, or the one in force: evaluation itself formats nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.i18n import (
    format_date,
    format_datetime,
    format_list,
    format_percent,
    language,
    languages,
    ngettext,
    npgettext,
)
from bridge.i18n import gettext as _

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

__all__ = ["FactRef", "ExplainNode", "Decision", "render_tree", "describe", "BADGE_SOURCE"]

# Provenance of a badge_held leaf is the held award itself, named with this pseudo-source.
BADGE_SOURCE = "bridge"
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FactRef:
    """The part of a fact that justifies an award; `kind` is a FactKind value or "badge".

    `names` are the fact's name attributes (`bridge.model.NAME_ATTRS`) as (attribute, text)
    pairs: what the evidence of the award is written with.
    """

    source: str
    kind: str
    course: str
    item: str
    value: float | None
    occurred_at: datetime | None
    names: tuple[tuple[str, str], ...] = ()

    def sort_key(self) -> tuple[datetime, str, str, str, str]:
        return (self.occurred_at or _EPOCH, self.source, self.kind, self.course, self.item)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "course": self.course,
                "item": self.item, "value": self.value,
                "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
                **dict(self.names)}

    def __str__(self) -> str:
        bits = [self.source, self.kind, self.course, self.item]
        if self.value is not None:
            bits.append(f"{self.value:g}")
        if self.occurred_at is not None:
            bits.append(self.occurred_at.date().isoformat())
        return " · ".join(b for b in bits if b)


@dataclass(frozen=True, slots=True)
class ExplainNode:
    """One evaluated node: its truth, the facts behind it, and what was observed.

    `observed` is the count of matching sessions, held badges or true children, or the best
    grade; `label(lang)` and `missing(lang)` turn node and observation into a sentence (in
    the language in force when `lang` is None).
    """

    node: Node
    value: bool
    facts: tuple[FactRef, ...] = ()
    children: tuple[ExplainNode, ...] = ()
    observed: float | None = None

    def label(self, lang: str | None = None) -> str:
        with _in(lang):
            return _label(self.node)

    def missing(self, lang: str | None = None) -> str | None:
        """What is lacking for this node to be true; None when it is true."""
        if self.value:
            return None
        with _in(lang):
            return _missing(self)

    def walk(self) -> Iterator[ExplainNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        missing = None if self.value else {lang: self.missing(lang) for lang in languages()}
        return {"type": type(self.node).__name__, "value": self.value,
                "label": {lang: self.label(lang) for lang in languages()},
                "missing": missing, "observed": self.observed,
                "facts": [f.to_dict() for f in self.facts],
                "children": [c.to_dict() for c in self.children]}


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one learner and one badge, with the facts that carried it.

    `earned_at` is the date of the latest supporting fact: when the condition became true.
    """

    badge: str
    version: str
    awarded: bool
    tree: ExplainNode
    provenance: list[FactRef] = field(default_factory=list)
    earned_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"badge": self.badge, "version": self.version, "awarded": self.awarded,
                "earned_at": self.earned_at.isoformat() if self.earned_at else None,
                "provenance": [f.to_dict() for f in self.provenance],
                "tree": self.tree.to_dict()}


def provenance(tree: ExplainNode) -> list[FactRef]:
    """Facts under true nodes, skipping negations (an absence is not a fact), sorted, unique."""
    found: set[FactRef] = set()

    def visit(node: ExplainNode) -> None:
        if not node.value or isinstance(node.node, Not):
            return
        found.update(node.facts)
        for child in node.children:
            visit(child)

    visit(tree)
    return sorted(found, key=FactRef.sort_key)


def render_tree(tree: ExplainNode, lang: str | None = None) -> str:
    """A readable, indented explanation: ✓/✗ per node, what is missing, the facts behind it."""
    lines: list[str] = []

    def visit(node: ExplainNode, depth: int) -> None:
        pad = "  " * depth
        missing = node.missing(lang)
        lines.append(f"{pad}{'✓' if node.value else '✗'} {node.label(lang)}"
                     + (f" — {missing}" if missing else ""))
        lines.extend(f"{pad}    · {fact}" for fact in node.facts)
        for child in node.children:
            visit(child, depth + 1)

    visit(tree, 0)
    return "\n".join(lines)


def describe(node: Node, lang: str | None = None) -> str:
    """The condition as a Markdown bullet list: the default criteria narrative of a badge."""
    lines: list[str] = []

    def visit(current: Node, depth: int) -> None:
        lines.append(f"{'  ' * depth}- {_label(current)}")
        for child in _children(current):
            visit(child, depth + 1)

    with _in(lang):
        visit(node, 0)
    return "\n".join(lines)


def _in(lang: str | None) -> AbstractContextManager[object]:
    """`lang` for the block, or the language already in force."""
    return language(lang) if lang else nullcontext()


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (All, AnyOf, AtLeast)):
        return node.children
    if isinstance(node, (Not, FactBetween)):
        return (node.child,)
    return ()


def _day(moment: datetime, end: bool) -> str:
    # An end bound at midnight came from an inclusive `until` date: show that day.
    if moment.time() == datetime.min.time() and moment.tzinfo in (None, UTC):
        return format_date(moment - timedelta(days=1) if end else moment)
    return format_datetime(moment)


def _window(window: Window) -> str:
    start = _day(window.start, False) if window.start else None
    end = _day(window.end, True) if window.end else None
    if start and end:
        return _("between {start} and {end}").format(start=start, end=end)
    if start:
        return _("from {start}").format(start=start)
    return _("until {end}").format(end=end)


def _presence_filters(node: Presence) -> str:
    bits = []
    if node.sessions:
        bits.append(_("at sessions {sessions}").format(sessions=format_list(node.sessions, "or")))
    if node.tags:  # agrees with the number of presences in languages that inflect it
        bits.append(ngettext("tagged {tags}", "tagged {tags}", node.at_least).format(
            tags=format_list(node.tags, "or")))
    if node.places:
        bits.append(_("at {places}").format(places=format_list(node.places, "or")))
    if node.window:
        bits.append(_window(node.window))
    return "".join(" " + b for b in bits)


def _label(node: Node) -> str:
    match node:
        case All():
            return _("all of the following")
        case AnyOf():
            return _("any of the following")
        case AtLeast(count=n):
            return _("at least {count} of the following").format(count=n)
        case Not():
            return _("not the following")
        case FactBetween(window=w):
            return _window(w)
        case CourseCompleted(source, course):
            return _("completed course {course} on {source}").format(course=course, source=source)
        case ActivityCompleted(source, course, activity):
            return _("activity {activity} completed in course {course} on {source}").format(
                activity=activity, course=course, source=source)
        case CertificateEarned(source, course):
            return _("certificate earned in course {course} on {source}").format(
                course=course, source=source)
        case Enrolled(source, course):
            return _("enrolled in course {course} on {source}").format(course=course, source=source)
        case Grade(source, course, op=op, threshold=t, activity=a):
            text = (_("grade of activity {activity} {op} {threshold} in course {course} on {source}")
                    if a else _("grade {op} {threshold} in course {course} on {source}"))
            return text.format(activity=a, op=_OPS[op], threshold=format_percent(t), course=course, source=source)
        case Presence(source, course, at_least=n):
            return ngettext("at least {count} presence{filters} in course {course} on {source}",
                            "at least {count} presences{filters} in course {course} on {source}",
                            n).format(count=n, filters=_presence_filters(node), course=course,
                                      source=source)
        case BadgeHeld(badges=(one,)):
            return _("holds badge {badge}").format(badge=one)
        case BadgeHeld(badges=many, at_least=n):
            return _("holds at least {count} of the badges {badges}").format(
                count=n, badges=format_list(many))
    raise TypeError(node)


def _lacks(needed: str, observed: str) -> str:
    """What a condition needs, then what was found: "needs 2 presences, has 1"."""
    return _("{needed}, {observed}").format(needed=needed, observed=observed)


def _missing(result: ExplainNode) -> str:
    node, seen = result.node, int(result.observed or 0)
    met = npgettext("conditions", "has {count}", "has {count}", seen).format(count=seen)
    match node:
        case All(children=c):
            return _lacks(ngettext("needs all {total}", "needs all {total}", len(c)).format(
                total=len(c)), met)
        case AnyOf(children=c) | AtLeast(children=c):
            need = getattr(node, "count", 1)
            return _lacks(ngettext("needs {count} of {total}", "needs {count} of {total}", need)
                          .format(count=need, total=len(c)), met)
        case Not():
            return _("the condition is met")
        case FactBetween():
            return _("nothing within these dates")
        case CourseCompleted() | ActivityCompleted():
            return _("no completion recorded")
        case CertificateEarned():
            return _("no certificate recorded")
        case Enrolled():
            return _("no enrolment recorded")
        case Grade(op=op, threshold=t):
            if result.observed is None:
                return _("no grade recorded")
            return _("needs a grade {op} {threshold}, has {grade}").format(
                op=_OPS[op], threshold=format_percent(t), grade=format_percent(result.observed))
        case Presence(at_least=n):
            return _lacks(ngettext("needs {count} presence{filters}", "needs {count} presences{filters}",
                                   n).format(count=n, filters=_presence_filters(node)),
                          npgettext("presences", "has {count}", "has {count}", seen).format(count=seen))
        case BadgeHeld(badges=(one,)):
            return _("does not hold badge {badge}").format(badge=one)
        case BadgeHeld(at_least=n):
            return _lacks(ngettext("needs {count} of these badges", "needs {count} of these badges",
                                   n).format(count=n),
                          npgettext("badges", "holds {count}", "holds {count}", seen).format(count=seen))
    raise TypeError(node)


_OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
