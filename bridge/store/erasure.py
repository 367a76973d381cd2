"""Erasing a learner on request (GDPR art. 17), across every part of the store at once.

What stays is a keyed HMAC of the address (bridge.store.erasure_key), so that the platforms'
next syncs do not bring them back, and the database alone does not tell who was erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, select, update

from bridge.store import erasure_key
from bridge.store.ingest import upsert
from bridge.store.schema import (
    awards,
    erasures,
    facts,
    identities,
    learners,
    meetup_checkins,
    outbox,
    pending_evaluations,
    pending_pushes,
)

__all__ = ["Erasure"]


@dataclass
class Erasure:
    engine: Engine

    def erase(self, email: str, reason: str) -> dict[str, int] | None:
        """Facts, identities and queued deliveries deleted, awards revoked and stripped of name,
        email and evidence; one transaction. Counts of what went, or None if the email is unknown."""
        email = email.strip().lower()
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            lid = conn.execute(select(learners.c.id).where(learners.c.email == email)).scalar_one_or_none()
            if lid is None:
                return None
            addresses = _addresses(conn, lid, email)
            counts = {
                "facts": conn.execute(delete(facts).where(facts.c.learner_id == lid)).rowcount,
                "identities": conn.execute(delete(identities).where(identities.c.learner_id == lid)).rowcount,
                "deliveries_cancelled": conn.execute(delete(outbox).where(
                    outbox.c.learner_id == lid, outbox.c.status != "sent")).rowcount,
            }
            counts["check_ins"] = conn.execute(delete(meetup_checkins).where(
                meetup_checkins.c.email.in_(addresses))).rowcount
            for queue in (pending_evaluations, pending_pushes):
                conn.execute(delete(queue).where(queue.c.learner_id == lid))
            conn.execute(update(awards).where(awards.c.learner_id == lid, awards.c.status != "revoked")
                         .values(status="revoked", revoked_at=now, revocation_reason=reason))
            counts["awards_revoked"] = conn.execute(update(awards).where(awards.c.learner_id == lid).values(
                recipient_email=None, recipient_name=None, provenance=[])).rowcount
            conn.execute(update(outbox).where(outbox.c.learner_id == lid).values(payload={}, result=None))
            conn.execute(update(learners).where(learners.c.id == lid).values(
                email=None, fullname=None, lang=None, erased_at=now))
            digest, keyed = erasure_key.record(conn, email)
            upsert(conn, erasures, {"email_hash": digest, "erased_at": now, "keyed": keyed},
                   ["email_hash"])
        return counts


def _addresses(conn: Connection, learner_id: int, email: str) -> set[str]:
    """Every address the learner is known by: a check-in typed with another one (later linked
    to them) is theirs too."""
    return {email, *(e for e in conn.execute(select(identities.c.email).where(
        identities.c.learner_id == learner_id, identities.c.email.is_not(None))).scalars())}
