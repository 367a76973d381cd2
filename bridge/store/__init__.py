"""The store: one object over the database that every step of a run goes through.

Every write that must be atomic (facts + watermark; award + its outbox items) is one method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge.errors import SourceError
from bridge.model import Batch, Fact, FactKind
from bridge.store import db
from bridge.store.ingest import IngestResult, apply_batch, erasure_hash, upsert, upsert_watermark
from bridge.store.schema import (
    awards,
    badges,
    erasures,
    facts,
    identities,
    learners,
    outbox,
    pending_evaluations,
    run_errors,
    runs,
    watermarks,
)

__all__ = ["Store", "IngestResult", "OutboxItem", "NewOutboxItem"]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything inside is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class NewOutboxItem:
    key: str
    channel: str
    payload: dict[str, Any]
    learner_id: int | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    key: str
    channel: str
    award_id: str | None
    learner_id: int | None
    payload: dict[str, Any]
    attempts: int


class Store:
    """All reads and writes of badge-bridge's state."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = db.open_engine(url)
        if migrate:
            db.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------
    def begin_run(self, sources: Sequence[str], trigger: str = "cli") -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(insert(runs).values(
                started_at=datetime.now(UTC), status="running", trigger=trigger,
                sources=list(sources), stats={}).returning(runs.c.id)).scalar_one())

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=datetime.now(UTC), status=status, stats=stats))

    def record_error(self, run_id: int, error: SourceError) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(run_errors).values(
                run_id=run_id, source=error.source, endpoint=error.endpoint[:300],
                status_code=error.status, code=error.code, field=error.field,
                message=error.detail, at=datetime.now(UTC)))

    def run_errors(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(run_errors).where(run_errors.c.run_id == run_id).order_by(run_errors.c.id))]

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(runs).order_by(runs.c.id.desc()).limit(limit))]

    # -- ingest -------------------------------------------------------------
    def ingest(self, run_id: int, batch: Batch) -> IngestResult:
        """Identities, facts and watermarks of one batch, in one transaction.

        Two workers ingesting the same new rows at once: the loser's transaction hits a unique
        key, rolls back whole, and is replayed; it then finds the rows and changes nothing.
        """
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    return apply_batch(conn, batch, run_id)
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    # -- evaluation queue ------------------------------------------------------
    def pending_evaluations(self) -> dict[int, int]:
        """Queue row id -> learner id, for learners whose facts changed."""
        with self.engine.connect() as conn:
            return {r.id: r.learner_id for r in conn.execute(
                select(pending_evaluations.c.id, pending_evaluations.c.learner_id))}

    def clear_pending(self, row_ids: Iterable[int]) -> None:
        """Remove exactly the rows that were evaluated; rows added meanwhile stay queued."""
        ids = sorted(row_ids)
        with self.engine.begin() as conn:
            for i in range(0, len(ids), 500):
                conn.execute(delete(pending_evaluations).where(pending_evaluations.c.id.in_(ids[i:i + 500])))

    def set_watermark(self, source: str, course: str, stream: str, value: str) -> None:
        with self.engine.begin() as conn:
            upsert_watermark(conn, source, course, stream, value, datetime.now(UTC))

    def watermark(self, source: str, course: str, stream: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(watermarks.c.value).where(
                watermarks.c.source == source, watermarks.c.course == course,
                watermarks.c.stream == stream)).scalar_one_or_none()

    def watermarks(self, source: str, course: str, prefix: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.stream: r.value for r in conn.execute(
                select(watermarks.c.stream, watermarks.c.value).where(
                    watermarks.c.source == source, watermarks.c.course == course,
                    watermarks.c.stream.startswith(prefix, autoescape=True)))}

    def external_ids_with_fact(self, source: str, course: str, kind: FactKind,
                               item: str = "", value: float = 1.0) -> set[str]:
        """External ids of a source's learners holding a fact with this value (e.g. completed)."""
        with self.engine.connect() as conn:
            return set(conn.execute(
                select(identities.c.external_id)
                .join(facts, and_(facts.c.learner_id == identities.c.learner_id,
                                  facts.c.source == identities.c.source))
                .where(identities.c.source == source, facts.c.course == course,
                       facts.c.kind == kind.value, facts.c.item == item,
                       facts.c.value == value)).scalars())

    def identities(self, source: str) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r.external_id: dict(r._mapping) for r in conn.execute(
                select(identities).where(identities.c.source == source))}

    # -- evaluation inputs -------------------------------------------------
    def all_learner_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(learners.c.id).where(learners.c.erased_at.is_(None))).scalars())

    def facts_for(self, learner_ids: Iterable[int]) -> dict[int, list[Fact]]:
        out: dict[int, list[Fact]] = {}
        ids = sorted(learner_ids)
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(select(facts, identities.c.external_id)
                                    .join(identities, and_(identities.c.learner_id == facts.c.learner_id,
                                                           identities.c.source == facts.c.source))
                                    .where(facts.c.learner_id.in_(ids[i:i + 500])))
                for r in rows:
                    out.setdefault(r.learner_id, []).append(Fact(
                        source=r.source, external_id=r.external_id, kind=FactKind(r.kind),
                        course=r.course, item=r.item, value=r.value, status=r.status,
                        occurred_at=_aware(r.occurred_at), attrs=r.attrs or {}))
        return out

    def learners(self, learner_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = sorted(learner_ids)
        out: dict[int, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(select(learners).where(learners.c.id.in_(ids[i:i + 500]))):
                    out[r.id] = dict(r._mapping)
        return out

    def learner_by_email(self, email: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(learners).where(learners.c.email == email.strip().lower())).first()
            return dict(r._mapping) if r else None

    def awards_of(self, learner_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        ids = sorted(learner_ids)
        out: dict[int, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                for r in conn.execute(select(awards).where(awards.c.learner_id.in_(ids[i:i + 500]))
                                      .order_by(awards.c.issued_at)):
                    out.setdefault(r.learner_id, []).append(self._award_row(r))
        return out

    # -- badges and awards ---------------------------------------------------
    def upsert_badge(self, badge_id: str, version: str, definition: dict[str, Any],
                     image: bytes | None, image_type: str | None) -> None:
        with self.engine.begin() as conn:
            upsert(conn, badges, dict(id=badge_id, version=version, definition=definition, image=image,
                                      image_type=image_type, updated_at=datetime.now(UTC)), ["id"])

    def badge(self, badge_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(badges).where(badges.c.id == badge_id)).first()
            return dict(r._mapping) if r else None

    def create_award(self, award: dict[str, Any], items: Sequence[NewOutboxItem]) -> bool:
        """Insert the award and its outbox items atomically; False if it already exists."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(awards).values(**award))
                for item in items:
                    conn.execute(insert(outbox).values(
                        key=item.key, channel=item.channel, award_id=award["id"],
                        learner_id=award["learner_id"], payload=item.payload, status="pending",
                        attempts=0, next_attempt_at=now, created_at=now))
        except IntegrityError:
            return False
        return True

    @staticmethod
    def _award_row(r: Any) -> dict[str, Any]:
        d = dict(r._mapping)
        for k in ("issued_at", "expires_at", "revoked_at"):
            d[k] = _aware(d.get(k))
        return d

    def award(self, award_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(awards).where(awards.c.id == award_id)).first()
            return self._award_row(r) if r else None

    def list_awards(self, *, badge_id: str | None = None, email: str | None = None) -> list[dict[str, Any]]:
        q = (select(awards, learners.c.email.label("learner_email"))
             .join(learners, learners.c.id == awards.c.learner_id)
             .order_by(awards.c.issued_at, awards.c.id))
        if badge_id:
            q = q.where(awards.c.badge_id == badge_id)
        if email:
            q = q.where(learners.c.email == email.strip().lower())
        with self.engine.connect() as conn:
            return [self._award_row(r) for r in conn.execute(q)]

    def revoked_awards(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [self._award_row(r) for r in conn.execute(
                select(awards).where(awards.c.status == "revoked").order_by(awards.c.revoked_at))]

    def revoke(self, award_id: str, reason: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(awards).where(awards.c.id == award_id,
                                                     awards.c.status != "revoked").values(
                status="revoked", revoked_at=datetime.now(UTC), revocation_reason=reason)).rowcount == 1

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                "learners": conn.execute(select(func.count()).select_from(learners)).scalar_one(),
                "facts": conn.execute(select(func.count()).select_from(facts)).scalar_one(),
                "awards": conn.execute(select(func.count()).select_from(awards)).scalar_one(),
                "emails_sent": conn.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.channel == "email", outbox.c.status == "sent")).scalar_one(),
            }

    # -- outbox -------------------------------------------------------------
    def enqueue(self, item: NewOutboxItem) -> bool:
        """Add one outbox item unless its key exists (idempotent)."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(outbox).values(
                    key=item.key, channel=item.channel, learner_id=item.learner_id,
                    payload=item.payload, status="pending", attempts=0, next_attempt_at=now,
                    created_at=now))
        except IntegrityError:
            return False
        return True

    def claim_due(self, channel: str, limit: int = 100, lease: timedelta = timedelta(minutes=10),
                  now: datetime | None = None) -> list[OutboxItem]:
        """Lease due items so that two workers never send the same one at once."""
        now = now or datetime.now(UTC)
        claimed: list[OutboxItem] = []
        with self.engine.begin() as conn:
            rows = conn.execute(select(outbox).where(
                outbox.c.channel == channel,
                or_(and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
                    and_(outbox.c.status == "sending", outbox.c.lease_until <= now)))
                .order_by(outbox.c.id).limit(limit)).all()
            for r in rows:
                got = conn.execute(update(outbox).where(
                    outbox.c.id == r.id, outbox.c.status == r.status,
                    outbox.c.attempts == r.attempts).values(
                    status="sending", lease_until=now + lease, attempts=r.attempts + 1)).rowcount
                if got:
                    claimed.append(OutboxItem(r.id, r.key, r.channel, r.award_id, r.learner_id,
                                              r.payload, r.attempts + 1))
        return claimed

    def outbox_done(self, item_id: int, result: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="sent", sent_at=datetime.now(UTC), result=result, last_error=None,
                lease_until=None))

    def outbox_retry(self, item_id: int, error: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="pending", next_attempt_at=at, last_error=error, lease_until=None))

    def outbox_failed(self, item_id: int, error: str, result: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="failed", last_error=error, result=result, lease_until=None))

    def outbox_items(self, channel: str | None = None) -> list[dict[str, Any]]:
        q = select(outbox).order_by(outbox.c.id)
        if channel:
            q = q.where(outbox.c.channel == channel)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def erase_learner(self, email: str, reason: str) -> dict[str, int] | None:
        """Erase a learner (GDPR): facts, identities and queued deliveries deleted, awards revoked
        and stripped of name, email and evidence, the address kept only as a hash so that the
        platforms' next sync does not bring it back. One transaction; None if unknown."""
        email = email.strip().lower()
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            lid = conn.execute(select(learners.c.id).where(learners.c.email == email)).scalar_one_or_none()
            if lid is None:
                return None
            counts = {
                "facts": conn.execute(delete(facts).where(facts.c.learner_id == lid)).rowcount,
                "identities": conn.execute(delete(identities).where(identities.c.learner_id == lid)).rowcount,
                "deliveries_cancelled": conn.execute(delete(outbox).where(
                    outbox.c.learner_id == lid, outbox.c.status != "sent")).rowcount,
            }
            conn.execute(delete(pending_evaluations).where(pending_evaluations.c.learner_id == lid))
            conn.execute(update(awards).where(awards.c.learner_id == lid, awards.c.status != "revoked")
                         .values(status="revoked", revoked_at=now, revocation_reason=reason))
            counts["awards_revoked"] = conn.execute(update(awards).where(awards.c.learner_id == lid).values(
                recipient_email=None, recipient_name=None, provenance=[])).rowcount
            conn.execute(update(outbox).where(outbox.c.learner_id == lid).values(payload={}, result=None))
            conn.execute(update(learners).where(learners.c.id == lid).values(
                email=None, fullname=None, lang=None, erased_at=now))
            upsert(conn, erasures, {"email_hash": erasure_hash(email), "erased_at": now}, ["email_hash"])
        return counts

    def reset_outbox(self, key: str) -> bool:
        """Make a sent or failed item due again (re-send)."""
        with self.engine.begin() as conn:
            return conn.execute(update(outbox).where(outbox.c.key == key).values(
                status="pending", next_attempt_at=datetime.now(UTC), lease_until=None)).rowcount == 1
