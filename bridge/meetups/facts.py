"""A check-in as the presence fact the rule language's `presence` predicate counts.

The fact belongs to the session's meetups source, its learner is the address typed (matched to a
platform's learner through the address, as every source's identities are); its attributes are
the ones evidence is written from: title, place ("name, town"), session_date (ISO 8601 with the
offset of the session's zone), tags, and method (qr, organiser, sheet).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bridge.model import Batch, Fact, FactKind, Identity
from bridge.store import MeetupSession

__all__ = ["presence_batch", "session_date"]


def session_date(session: MeetupSession) -> str:
    """The session's start, ISO 8601 in its own zone (with the offset of that day)."""
    return session.starts_at.astimezone(ZoneInfo(session.timezone)).isoformat()


def presence_batch(session: MeetupSession, email: str, method: str, *, present: bool = True,
                   extra_tags: list[str] | None = None) -> Batch:
    """The identity and the presence (value 1, or 0 once an organiser removed it) of one
    check-in, for the store to write with the check-in itself."""
    identity = Identity(source=session.source, external_id=email, email=email)
    fact = Fact(source=session.source, external_id=email, kind=FactKind.presence,
                course=session.course, item=session.id, value=1.0 if present else 0.0,
                status="present" if present else "removed", occurred_at=session.starts_at,
                attrs={"title": session.title, "place": session.where,
                       "session_date": session_date(session),
                       "tags": sorted({*session.tags, *(extra_tags or [])}), "method": method})
    return Batch(identities=[identity], facts=[fact])
