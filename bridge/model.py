"""The words of the domain as plain frozen dataclasses shared by every package.

Connectors produce `Identity` and `Fact`, the rule engine reads `Fact`, the store keeps both.
They are checked where data enters (payload models, config, rules files), not per row here:
construction only normalises (UTC datetimes, lower-cased emails, the fact kind).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "AttrValue",
    "FactKind",
    "Identity",
    "Fact",
    "Watermark",
    "Batch",
    "Attestation",
    "PushResult",
    "SessionInfo",
    "NAME_ATTRS",
    "normalise_email",
    "utc",
    "OutOfRange",
    "PUSH_TARGET",
]

# What a push can set on a platform: an activity's completion, an attendance session's status,
# an Open edX block's completion.
PUSH_TARGET = re.compile(r"^(completion:\d+|attendance:\d+|block:block-v1:\S+)$")

AttrValue = str | int | float | bool | list[str]


def normalise_email(value: str | None) -> str | None:
    """Lower-cased, trimmed email; None for an empty or missing one."""
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


class OutOfRange(ValueError):
    """A Unix timestamp no datetime can hold (a platform's corrupt or sentinel value)."""


def utc(value: datetime | int | float | None) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime or a Unix timestamp (0 means never);
    OutOfRange for a timestamp past year 9999 (or not a number)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise OutOfRange(f"timestamp {value!r} is out of range") from None
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The attributes of a fact that name what it is about, as the platform or the organiser wrote
# them: the evidence of a badge is written with these, never with an id. Every one is a string.
#   course_name   the course's name (Moodle's fullname, Open edX's display name…)
#   item_name     the activity's, block's or session's name on the platform
#   title         a meetup's title (sign-in sheet, check-in); Moodle's attendance description
#   place         where a meetup took place
#   session_date  when the session took place (ISO 8601), which may differ from when it was recorded
NAME_ATTRS: tuple[str, ...] = ("course_name", "item_name", "title", "place", "session_date")


class FactKind(StrEnum):
    enrolment = "enrolment"
    activity_completion = "activity_completion"
    course_completion = "course_completion"
    grade = "grade"
    certificate = "certificate"
    presence = "presence"


@dataclass(frozen=True, slots=True)
class Identity:
    """One learner as one source knows them."""

    source: str
    external_id: str
    username: str | None = None
    email: str | None = None
    fullname: str | None = None
    lang: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalise_email(self.email))


@dataclass(frozen=True, slots=True)
class Fact:
    """One normalised, timestamped observation from a source about one learner.

    Natural key: (source, external_id, kind, course, item). `item` is the activity,
    session or block the fact is about, "" for course-level facts.
    `value` is 1.0/0.0 for completion, a 0..1 fraction for grades.
    """

    source: str
    external_id: str
    kind: FactKind
    course: str
    item: str = ""
    value: float | None = None
    status: str = ""
    occurred_at: datetime | None = None
    attrs: dict[str, AttrValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # cheap on the hot path (the store builds every learner's facts): no copy when already right
        if type(self.kind) is not FactKind:
            object.__setattr__(self, "kind", FactKind(self.kind))
        if self.occurred_at is not None and self.occurred_at.tzinfo is not UTC:
            object.__setattr__(self, "occurred_at", utc(self.occurred_at))

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.source, self.external_id, self.kind.value, self.course, self.item)


@dataclass(frozen=True, slots=True)
class Watermark:
    """Where a (source, course, stream) stopped; written with the facts it covers."""

    source: str
    course: str
    stream: str
    value: str


@dataclass(frozen=True, slots=True)
class Batch:
    """What a connector hands the store in one transaction: identities, facts, watermarks."""

    identities: list[Identity] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    watermarks: list[Watermark] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Attestation:
    """A presence attestation to push back to a source: learner present at a session.

    `target` says what to set: 'completion:<cmid>', 'attendance:<sessionid>', 'block:<usage key>'.
    """

    source: str
    external_id: str
    course: str
    session: str
    target: str
    username: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the platform said to a push, and whether its own completion now reflects it."""

    accepted: bool
    reflected: bool | None = None
    message: str = ""
    response: dict[str, AttrValue | None] = field(default_factory=dict)
    # What the platform now says about the learner (read back after the push): stored like
    # pulled facts, so a completion the push caused is evaluated without waiting for a signal.
    facts: list[Fact] = field(default_factory=list)

    def outcome(self) -> dict[str, Any]:
        """What the outbox records of the push (JSON): everything but the read-back facts."""
        return {"accepted": self.accepted, "reflected": self.reflected, "message": self.message,
                "response": dict(self.response)}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session a platform schedules (a Moodle attendance session), as meetups take it in.

    `id` is the platform's; `target` is where its presences are pushed (attendance:<id>)."""

    source: str
    course: str
    id: str
    title: str
    place: str
    start: datetime
    end: datetime
    tags: list[str] = field(default_factory=list)
    target: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
