"""What the store hands out and takes in: one frozen dataclass per kind of row.

The other packages read these, never the tables; JSON columns (definitions, provenance) stay documents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, overload

from bridge.model import Run, RunError

__all__ = [
    "Learner", "Badge", "StatusSlot", "NewAward", "Award", "ListedAward", "Validity",
    "NewOutboxItem", "OutboxItem", "Run", "RunError", "Presence", "aware",
    "MeetupSession", "NewSession", "CheckIn", "NewCheckIn", "SessionRoute",
]

Validity = Literal["valid", "expired", "revoked"]


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything inside is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class Learner:
    """One person, resolved across sources by their normalised email."""

    id: int
    email: str | None
    fullname: str | None
    lang: str | None
    created_at: datetime
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Badge:
    """The stored snapshot of a badge: what the web app serves even after its rule file changes."""

    id: str
    version: str
    definition: dict[str, Any]
    image: bytes | None
    image_type: str | None
    updated_at: datetime


class StatusSlot(NamedTuple):
    """An award's bit in an OB 3.0 BitstringStatusList."""

    list_id: int
    list_index: int


@dataclass(frozen=True, slots=True)
class NewAward:
    """An award to write; the store adds its status and its status-list slot."""

    id: str
    learner_id: int
    badge_id: str
    period: str
    issued_at: datetime
    salt: str
    recipient_email: str | None
    recipient_name: str | None
    lang: str
    rule_version: str
    provenance: list[dict[str, Any]]
    expires_at: datetime | None = None
    previous_award_id: str | None = None
    run_id: int | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Award:
    """An issued (or revoked) award as stored; an erased learner's has no email nor name."""

    id: str
    learner_id: int
    badge_id: str
    period: str
    issued_at: datetime
    salt: str
    recipient_email: str | None
    recipient_name: str | None
    lang: str
    rule_version: str
    provenance: list[dict[str, Any]]
    status: str  # issued, revoked
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    previous_award_id: str | None = None
    run_id: int | None = None
    message_id: str | None = None  # of its email; None for awards written before it was kept
    status_slot: StatusSlot | None = None
    name_hidden: bool = False  # the learner asked not to show their name on the page

    def validity(self, now: datetime | None = None) -> Validity:
        """What a verifier is told: revoked, expired, or valid."""
        if self.status == "revoked":
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "valid"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ListedAward(NamedTuple):
    """An award with its learner's current email (None once erased), as listings show it."""

    award: Award
    email: str | None

    def summary(self) -> dict[str, Any]:
        """One line of a listing (the admin API, `awards list --json`)."""
        return {"id": self.award.id, "email": self.email, "badge": self.award.badge_id,
                "issued_at": self.award.issued_at.isoformat(), "status": self.award.validity()}


@dataclass(frozen=True, slots=True)
class NewOutboxItem:
    key: str
    channel: str
    payload: dict[str, Any]
    learner_id: int | None = None
    award_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery (an email, a push) and what became of it."""

    id: int
    key: str
    channel: str  # email, push
    award_id: str | None
    learner_id: int | None
    payload: dict[str, Any]
    attempts: int
    status: str = "pending"  # pending, sending, sent, failed
    last_error: str | None = None
    result: dict[str, Any] | None = None
    sent_at: datetime | None = None

    @property
    def kind(self) -> str:
        """What an email says: award (the default), revocation, renewal."""
        return str(self.payload.get("kind", "award")) if self.channel == "email" else self.channel


class Presence(NamedTuple):
    """A learner's presence (value 1) at a session of a source, as push routes match it."""

    learner_id: int
    source: str
    item: str
    tags: list[str] | str | None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A meetup session to create or refresh (from the CLI, the config, a platform)."""

    id: str
    source: str  # the meetups source whose presence facts its check-ins become
    course: str
    title: str
    place: str
    town: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    tags: list[str]
    origin: str  # cli, config, or the platform source it was read from
    confirm: str = "none"  # none, email
    organiser_email: str | None = None
    push_to: str | None = None
    push_target: str | None = None


@dataclass(frozen=True, slots=True)
class MeetupSession:
    """A meetup session as stored; `link_generation` invalidates older organiser links."""

    id: str
    source: str
    course: str
    title: str
    place: str
    town: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    tags: list[str]
    origin: str
    confirm: str
    organiser_email: str | None
    push_to: str | None
    push_target: str | None
    link_generation: int
    created_at: datetime
    closed_at: datetime | None = None

    @property
    def where(self) -> str:
        """The place as rules filter it and pages show it: "name, town"."""
        return ", ".join(p for p in (self.place, self.town) if p)


@dataclass(frozen=True, slots=True)
class NewCheckIn:
    session_id: str
    email: str
    method: str  # qr, organiser, sheet
    pending: bool = False  # waits for the participant's click on the emailed link
    device: str | None = None  # a hash of the device cookie, to bound check-ins per device


@dataclass(frozen=True, slots=True)
class CheckIn:
    """One person at one session; `matched` once a platform knows their address."""

    id: int
    session_id: str
    email: str
    method: str
    status: str  # present, pending, removed
    created_at: datetime
    confirmed_at: datetime | None
    learner_id: int | None
    fullname: str | None
    matched: bool


class SessionRoute(NamedTuple):
    """A session's own push target: its presences go to `target` on source `to`."""

    source: str
    session_id: str
    to: str
    course: str
    target: str
