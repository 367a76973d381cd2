"""The words of the domain as plain frozen dataclasses shared by every package.

Connectors produce `Identity` and `Fact`, the rule engine reads `Fact`, the store keeps both.
They are checked where data enters (payload models, config, rules files), not per row here:
construction only normalises (UTC datetimes, lower-cased emails, the fact kind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
    "Finding",
    "FindingStatus",
    "Probe",
    "InPerson",
    "CourseSeen",
    "NAME_ATTRS",
    "normalise_email",
    "utc",
    "OutOfRange",
    "PUSH_TARGET",
    "Run",
    "RunError",
    "RUN_STATUSES",
    "ERROR_STEPS",
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


class FindingStatus(StrEnum):
    """What a setup probe saw: what is needed is there (ok), missing (fail), or worth knowing
    without stopping anything (warn: an optional part, or what only a write could prove)."""

    ok = "ok"
    fail = "fail"
    warn = "warn"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of `badge-bridge doctor`: what was probed, what was seen, and, when something is
    missing, exactly what to do. Texts are in the language in force when the probe ran.

    `subject`: what was probed (a capability, a function, the store…); `feature`: the configured
    feature that needs it; `source`: the source id, "" for the bridge's own setup."""

    status: FindingStatus
    subject: str
    detail: str = ""
    fix: str = ""
    feature: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if type(self.status) is not FindingStatus:
            object.__setattr__(self, "status", FindingStatus(self.status))

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status.value, "source": self.source, "subject": self.subject,
                "detail": self.detail, "fix": self.fix, "feature": self.feature}


@dataclass(frozen=True, slots=True)
class Probe:
    """A check that changes nothing anywhere: `run()` yields its findings. A connector declares
    its own (`probes`), next to what it needs of its platform."""

    name: str
    run: Callable[[], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class InPerson:
    """An activity that looks like an in-person session, where a presence could be pushed:
    `target` as a push route writes it (attendance:<id>, completion:<cmid>, block:<usage key>);
    `kind`: "attendance", "manual" (manual-completion activity) or "staff_graded"."""

    target: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class CourseSeen:
    """A course a source's credential can read, as `badge-bridge init` offers it."""

    id: str
    name: str
    completion: bool | None = None  # completion tracking on (None: unknown)
    in_person: list[InPerson] = field(default_factory=list)


# What a run can be: running (its heartbeat is fresh), ok, partial (it finished, but something
# was not fetched, delivered or pushed), failed (it stopped on an error), interrupted (killed:
# its process is gone or its heartbeat stopped; the next run takes its work over).
RUN_STATUSES: tuple[str, ...] = ("running", "ok", "partial", "failed", "interrupted")
# Where a run's error happened: pulling a source, evaluating rules, issuing, emailing, pushing.
ERROR_STEPS: tuple[str, ...] = ("pull", "evaluate", "issue", "email", "push")


@dataclass(frozen=True, slots=True)
class RunError:
    """A problem met during a run, which carried on. `source` and `endpoint` say where (for an
    email: "smtp" and the mail server), `step` in which step, `reason` what kind of failure
    (summaries group by it), `learner` a reference that is not personal data (a learner or an
    award id), `count` how many alike failures the line stands for."""

    source: str
    endpoint: str
    status_code: int | None
    code: str | None
    field: str | None
    message: str
    step: str = "pull"
    reason: str | None = None
    learner: str | None = None
    count: int = 1
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "endpoint": self.endpoint, "status_code": self.status_code,
                "code": self.code, "field": self.field, "message": self.message, "step": self.step,
                "reason": self.reason, "learner": self.learner, "count": self.count,
                "at": self.at.isoformat() if self.at else None}


@dataclass(frozen=True, slots=True)
class Run:
    """One run as the store keeps it. `stats` is its report (per source: requests by endpoint,
    facts; evaluated, issued, emails, pushes); `resumed`, the interrupted runs whose work it
    took over; `host` and `pid`, where it ran; `heartbeat_at`, when it last said it was alive."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # see RUN_STATUSES
    trigger: str
    sources: list[str]
    stats: dict[str, Any]
    host: str | None = None
    pid: int | None = None
    heartbeat_at: datetime | None = None
    resumed: list[int] = field(default_factory=list)
    errors: int = 0  # how many error lines it recorded (see Runs.errors for them)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "status": self.status, "trigger": self.trigger, "sources": list(self.sources),
                "host": self.host, "pid": self.pid,
                "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
                "resumed": list(self.resumed), "errors": self.errors, "stats": self.stats}
