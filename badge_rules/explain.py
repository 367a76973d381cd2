"""Why a badge was or was not awarded: the evaluated tree, its provenance, and its words.

Texts are built only when asked for (render, to_dict), so evaluation itself formats nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
    """The part of a fact that justifies an award; `kind` is a FactKind value or "badge"."""

    source: str
    kind: str
    course: str
    item: str
    value: float | None
    occurred_at: datetime | None

    def sort_key(self) -> tuple[datetime, str, str, str, str]:
        return (self.occurred_at or _EPOCH, self.source, self.kind, self.course, self.item)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "course": self.course,
                "item": self.item, "value": self.value,
                "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None}

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
    grade; `label(lang)` and `missing(lang)` turn node and observation into a sentence.
    """

    node: Node
    value: bool
    facts: tuple[FactRef, ...] = ()
    children: tuple[ExplainNode, ...] = ()
    observed: float | None = None

    def label(self, lang: str = "en") -> str:
        return _label(self.node, _lang(lang))

    def missing(self, lang: str = "en") -> str | None:
        """What is lacking for this node to be true; None when it is true."""
        return None if self.value else _missing(self, _lang(lang))

    def walk(self) -> Iterator[ExplainNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        missing = None if self.value else {lang: _missing(self, lang) for lang in ("fr", "en")}
        return {"type": type(self.node).__name__, "value": self.value,
                "label": {lang: _label(self.node, lang) for lang in ("fr", "en")},
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


def render_tree(tree: ExplainNode, lang: str = "en") -> str:
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


def describe(node: Node, lang: str = "en") -> str:
    """The condition as a Markdown bullet list: the default criteria narrative of a badge."""
    lang = _lang(lang)
    lines: list[str] = []

    def visit(current: Node, depth: int) -> None:
        lines.append(f"{'  ' * depth}- {_label(current, lang)}")
        for child in _children(current):
            visit(child, depth + 1)

    visit(node, 0)
    return "\n".join(lines)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (All, AnyOf, AtLeast)):
        return node.children
    if isinstance(node, (Not, FactBetween)):
        return (node.child,)
    return ()


def _lang(lang: str) -> str:
    return "fr" if lang.lower().startswith("fr") else "en"


def _pct(value: float, lang: str) -> str:
    text = f"{round(value * 100, 1):g}"
    return f"{text.replace('.', ',')} %" if lang == "fr" else f"{text}%"


def _day(moment: datetime, end: bool) -> str:
    # An end bound at midnight came from an inclusive `until` date: show that day.
    if moment.time() == datetime.min.time() and moment.tzinfo in (None, UTC):
        return (moment - timedelta(days=1) if end else moment).date().isoformat()
    return moment.isoformat()


def _window(window: Window, lang: str) -> str:
    start = _day(window.start, False) if window.start else None
    end = _day(window.end, True) if window.end else None
    fr = lang == "fr"
    if start and end:
        return f"entre le {start} et le {end}" if fr else f"between {start} and {end}"
    if start:
        return f"à partir du {start}" if fr else f"from {start}"
    return f"jusqu'au {end}" if fr else f"until {end}"


def _presence_filters(node: Presence, lang: str) -> str:
    fr = lang == "fr"
    bits = []
    if node.sessions:
        bits.append(("aux sessions " if fr else "at sessions ") + ", ".join(node.sessions))
    if node.tags:
        bits.append(("étiquetées " if fr else "tagged ") + (" ou " if fr else " or ").join(node.tags))
    if node.places:
        bits.append(("à " if fr else "at ") + (" ou " if fr else " or ").join(node.places))
    if node.window:
        bits.append(_window(node.window, lang))
    return "".join(" " + b for b in bits)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def _label(node: Node, lang: str) -> str:
    fr = lang == "fr"
    where = ""
    if isinstance(node, _COURSE_NODES):
        where = (f" au cours {node.course} sur {node.source}" if fr
                 else f" in course {node.course} on {node.source}")
    match node:
        case All():
            return "toutes les conditions suivantes" if fr else "all of the following"
        case AnyOf():
            return "au moins une des conditions suivantes" if fr else "any of the following"
        case AtLeast(count=n):
            return (f"au moins {n} des conditions suivantes" if fr
                    else f"at least {n} of the following")
        case Not():
            return "pas la condition suivante" if fr else "not the following"
        case FactBetween(window=w):
            return _window(w, lang)
        case CourseCompleted(source, course):
            return (f"cours {course} terminé sur {source}" if fr
                    else f"completed course {course} on {source}")
        case ActivityCompleted(activity=a):
            return f"activité {a} terminée{where}" if fr else f"activity {a} completed{where}"
        case CertificateEarned():
            return f"attestation obtenue{where}" if fr else f"certificate earned{where}"
        case Enrolled():
            return f"inscrit{where}" if fr else f"enrolled{where}"
        case Grade(op=op, threshold=t, activity=a):
            what = (f"note de l'activité {a}" if a else "note") if fr else (
                f"grade of activity {a}" if a else "grade")
            return f"{what} {_OPS[op]} {_pct(t, lang)}{where}"
        case Presence(at_least=n):
            at = "au moins " if fr else "at least "
            return f"{at}{_plural(n, 'présence' if fr else 'presence')}{_presence_filters(node, lang)}{where}"
        case BadgeHeld(badges=(one,)):
            return f"détient le badge {one}" if fr else f"holds badge {one}"
        case BadgeHeld(badges=many, at_least=n):
            names = ", ".join(many)
            return (f"détient au moins {n} des badges {names}" if fr
                    else f"holds at least {n} of the badges {names}")
    raise TypeError(node)


def _missing(result: ExplainNode, lang: str) -> str:
    fr = lang == "fr"
    node, seen = result.node, int(result.observed or 0)
    match node:
        case All(children=c):
            return (f"toutes les {len(c)} requises, {seen} remplie{'s' if seen > 1 else ''}"
                    if fr else f"needs all {len(c)}, has {seen}")
        case AnyOf(children=c) | AtLeast(children=c):
            need = getattr(node, "count", 1)
            return (f"{need} sur {len(c)} requise{'s' if need > 1 else ''}, "
                    f"{seen} remplie{'s' if seen > 1 else ''}" if fr
                    else f"needs {need} of {len(c)}, has {seen}")
        case Not():
            return "la condition est remplie" if fr else "the condition is met"
        case FactBetween():
            return "rien dans ces dates" if fr else "nothing within these dates"
        case CourseCompleted() | ActivityCompleted():
            return "aucun achèvement enregistré" if fr else "no completion recorded"
        case CertificateEarned():
            return "aucune attestation enregistrée" if fr else "no certificate recorded"
        case Enrolled():
            return "aucune inscription enregistrée" if fr else "no enrolment recorded"
        case Grade(op=op, threshold=t):
            if result.observed is None:
                return "aucune note enregistrée" if fr else "no grade recorded"
            got = _pct(result.observed, lang)
            return (f"note requise {_OPS[op]} {_pct(t, lang)}, obtenue {got}" if fr
                    else f"needs a grade {_OPS[op]} {_pct(t, lang)}, has {got}")
        case Presence(at_least=n):
            if fr:
                return (f"{_plural(n, 'présence')} requise{'s' if n > 1 else ''}, "
                        f"{seen} enregistrée{'s' if seen > 1 else ''}")
            return f"needs {_plural(n, 'presence')}{_presence_filters(node, lang)}, has {seen}"
        case BadgeHeld(badges=(one,)):
            return f"badge {one} non détenu" if fr else f"does not hold badge {one}"
        case BadgeHeld(at_least=n):
            return (f"{n} de ces badges requis, {seen} détenu{'s' if seen > 1 else ''}" if fr
                    else f"needs {n} of these badges, holds {seen}")
    raise TypeError(node)


_COURSE_NODES = (CourseCompleted, ActivityCompleted, CertificateEarned, Enrolled, Grade, Presence)
_OPS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
