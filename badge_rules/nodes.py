"""The condition tree a rule file becomes: combinators and predicates as frozen values.

Nodes are pure data; `evaluate.py` gives them meaning and `explain.py` gives them words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Window",
    "All",
    "AnyOf",
    "Not",
    "AtLeast",
    "CourseCompleted",
    "Grade",
    "ActivityCompleted",
    "CertificateEarned",
    "Enrolled",
    "Presence",
    "BadgeHeld",
    "FactBetween",
    "Node",
    "Predicate",
    "COMPARISONS",
]

# The comparison keys a `grade` accepts, in the order they are documented.
COMPARISONS = (">=", ">", "<=", "<", "==")


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start, end); either bound may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime | None) -> bool:
        # A fact without a date cannot prove it happened inside a window.
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end)

    def intersect(self, other: Window) -> Window:
        starts = [d for d in (self.start, other.start) if d is not None]
        ends = [d for d in (self.end, other.end) if d is not None]
        return Window(max(starts) if starts else None, min(ends) if ends else None)


@dataclass(frozen=True, slots=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class AtLeast:
    count: int
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class CourseCompleted:
    source: str
    course: str


@dataclass(frozen=True, slots=True)
class Grade:
    source: str
    course: str
    op: str
    threshold: float
    activity: str = ""


@dataclass(frozen=True, slots=True)
class ActivityCompleted:
    source: str
    course: str
    activity: str


@dataclass(frozen=True, slots=True)
class CertificateEarned:
    source: str
    course: str


@dataclass(frozen=True, slots=True)
class Enrolled:
    source: str
    course: str


@dataclass(frozen=True, slots=True)
class Presence:
    source: str
    course: str
    at_least: int = 1
    sessions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class BadgeHeld:
    badges: tuple[str, ...]
    at_least: int = 1


@dataclass(frozen=True, slots=True)
class FactBetween:
    window: Window
    child: Node


Predicate = (CourseCompleted | Grade | ActivityCompleted | CertificateEarned | Enrolled
             | Presence | BadgeHeld)
Node = All | AnyOf | Not | AtLeast | FactBetween | Predicate
