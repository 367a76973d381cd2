"""The words of the domain as validated, frozen models shared by every package.

Connectors produce `Identity` and `Fact`; the rule engine reads `Fact`; the store keeps both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "FactKind",
    "Identity",
    "Fact",
    "Watermark",
    "Batch",
    "Attestation",
    "PushResult",
    "normalise_email",
    "utc",
]

AttrValue = str | int | float | bool | list[str]


def normalise_email(value: str | None) -> str | None:
    """Lower-cased, trimmed email; None for an empty or missing one."""
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def utc(value: datetime | int | float | None) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime or a Unix timestamp (0 means never)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if value <= 0 else datetime.fromtimestamp(value, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FactKind(StrEnum):
    enrolment = "enrolment"
    activity_completion = "activity_completion"
    course_completion = "course_completion"
    grade = "grade"
    certificate = "certificate"
    presence = "presence"


class Identity(BaseModel):
    """One learner as one source knows them."""

    model_config = ConfigDict(frozen=True)

    source: str
    external_id: str
    username: str | None = None
    email: str | None = None
    fullname: str | None = None
    lang: str | None = None

    @field_validator("email")
    @classmethod
    def _norm(cls, v: str | None) -> str | None:
        return normalise_email(v)


class Fact(BaseModel):
    """One normalised, timestamped observation from a source about one learner.

    Natural key: (source, external_id, kind, course, item). `item` is the activity,
    session or block the fact is about, "" for course-level facts.
    `value` is 1.0/0.0 for completion, a 0..1 fraction for grades.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    external_id: str
    kind: FactKind
    course: str
    item: str = ""
    value: float | None = None
    status: str = ""
    occurred_at: datetime | None = None
    attrs: dict[str, AttrValue] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _tz(cls, v: datetime | None) -> datetime | None:
        return utc(v)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.source, self.external_id, self.kind.value, self.course, self.item)


class Watermark(BaseModel):
    """Where a (source, course, stream) stopped; written with the facts it covers."""

    model_config = ConfigDict(frozen=True)

    source: str
    course: str
    stream: str
    value: str


class Batch(BaseModel):
    """What a connector hands the store in one transaction: identities, facts, watermarks."""

    model_config = ConfigDict(frozen=True)

    identities: list[Identity] = Field(default_factory=list)
    facts: list[Fact] = Field(default_factory=list)
    watermarks: list[Watermark] = Field(default_factory=list)


class Attestation(BaseModel):
    """A presence attestation to push back to a source: learner present at a session."""

    model_config = ConfigDict(frozen=True)

    source: str
    external_id: str
    course: str
    session: str
    target: Annotated[str, Field(description="what to set: 'completion:<cmid>', 'attendance:<sessionid>', 'block:<usage key>'")]
    username: str | None = None
    email: str | None = None


class PushResult(BaseModel):
    """What the platform said to a push, and whether its own completion now reflects it."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    reflected: bool | None = None
    message: str = ""
    response: dict[str, AttrValue | None] = Field(default_factory=dict)
    # What the platform now says about the learner (read back after the push): stored like
    # pulled facts, so a completion the push caused is evaluated without waiting for a signal.
    facts: list[Fact] = Field(default_factory=list)
