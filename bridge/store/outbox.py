"""The outbox: every delivery (an award's email, a presence pushed back) as a leased item.

A unique key per item makes queuing idempotent; a lease keeps two workers from sending one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge.model import Batch
from bridge.store.ingest import IngestResult, apply_batch, chunks
from bridge.store.rows import NewOutboxItem, OutboxItem, aware
from bridge.store.schema import outbox

__all__ = ["Outbox"]


def _item(r: Any, attempts: int | None = None) -> OutboxItem:
    return OutboxItem(r.id, r.key, r.channel, r.award_id, r.learner_id, r.payload,
                      r.attempts if attempts is None else attempts, r.status, r.last_error,
                      r.result, aware(r.sent_at))


@dataclass
class Outbox:
    engine: Engine

    def known(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` already queued (whatever became of them)."""
        with self.engine.connect() as conn:
            return self._known(conn, keys)

    @staticmethod
    def _known(conn: Connection, keys: Sequence[str]) -> set[str]:
        return {k for chunk in chunks(keys)
                for k in conn.execute(select(outbox.c.key).where(outbox.c.key.in_(chunk))).scalars()}

    def add(self, items: Sequence[NewOutboxItem]) -> int:
        """Queue the items whose key is not queued yet; how many were added."""
        if not items:
            return 0
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                taken = self._known(conn, [i.key for i in items])
                fresh = list({i.key: i for i in items if i.key not in taken}.values())
                if fresh:
                    conn.execute(insert(outbox), [dict(
                        key=i.key, channel=i.channel, learner_id=i.learner_id, award_id=i.award_id,
                        payload=i.payload,
                        status="pending", attempts=0, next_attempt_at=now, created_at=now)
                        for i in fresh])
                return len(fresh)
        except IntegrityError:
            if len(items) == 1:
                return 0  # another worker queued the same key meanwhile
            return sum(self.add([i]) for i in items)  # one at a time: only the duplicates fail

    def claim(self, channel: str, limit: int = 100, lease: timedelta = timedelta(minutes=10),
              now: datetime | None = None, run_id: int | None = None) -> list[OutboxItem]:
        """Lease due items so that two workers never send the same one at once. The lease
        names `run_id`: if that run is interrupted, the next run frees its items at once."""
        now = now or datetime.now(UTC)
        due = and_(outbox.c.channel == channel,
                   or_(and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
                       and_(outbox.c.status == "sending", outbox.c.lease_until <= now)))
        with self.engine.begin() as conn:
            # Each kind of due item read in the order of the (status, next_attempt_at) index, so
            # that the query stops after `limit` rows: ordered by id, the whole backlog was
            # read and sorted for each batch. Leases run out in order too: the oldest first.
            ids = list(conn.execute(select(outbox.c.id).where(
                outbox.c.status == "pending", outbox.c.next_attempt_at <= now,
                outbox.c.channel == channel).order_by(outbox.c.next_attempt_at).limit(limit)).scalars())
            if len(ids) < limit:
                ids += conn.execute(select(outbox.c.id).where(
                    outbox.c.status == "sending", outbox.c.lease_until <= now,
                    outbox.c.channel == channel).order_by(outbox.c.id).limit(limit - len(ids))).scalars()
            if not ids:
                return []
            # One statement leases them all; the condition, checked again as each row is
            # written, leaves out what another worker leased meanwhile.
            rows = conn.execute(update(outbox).where(outbox.c.id.in_(ids), due).values(
                status="sending", lease_until=now + lease, attempts=outbox.c.attempts + 1,
                lease_run=run_id or None).returning(*outbox.c)).all()
        return sorted((_item(r) for r in rows), key=lambda i: i.id)

    def done(self, item_id: int, result: dict[str, Any] | None = None, *,
             read_back: Batch | None = None, run_id: int = 0) -> IngestResult:
        """Mark an item sent, with what the platform said after it (`read_back`, stored like
        pulled facts) in the same transaction: a push is not done until its read-back is."""
        with self.engine.begin() as conn:
            stored = apply_batch(conn, read_back, run_id) if read_back else IngestResult()
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="sent", sent_at=datetime.now(UTC), result=result, last_error=None,
                lease_until=None, lease_run=None, failure_reason=None))
        return stored

    def done_many(self, results: Sequence[tuple[int, dict[str, Any] | None]]) -> None:
        """Mark these items sent, each with its result, in one transaction."""
        if not results:
            return
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == bindparam("item_id")).values(
                status="sent", sent_at=now, result=bindparam("item_result", type_=outbox.c.result.type),
                last_error=None, lease_until=None, lease_run=None, failure_reason=None),
                [{"item_id": i, "item_result": r} for i, r in results])

    def retry(self, item_id: int, error: str, at: datetime, reason: str | None = None) -> None:
        """Back to the queue until `at`; `reason` is the failure's kind (smtp_unreachable…)."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="pending", next_attempt_at=at, last_error=error, lease_until=None,
                lease_run=None, failure_reason=reason))

    def failed(self, item_id: int, error: str, result: dict[str, Any] | None = None,
               reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="failed", last_error=error, result=result, lease_until=None,
                lease_run=None, failure_reason=reason))

    def uncount(self, item_id: int) -> None:
        """Take back the attempt its claim counted (the item was not tried)."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id, outbox.c.attempts > 0)
                         .values(attempts=outbox.c.attempts - 1))

    def cancelled(self, item_id: int, why: str) -> None:
        """Never to be sent (its award was revoked or its learner erased): not a failure."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="cancelled", last_error=why, lease_until=None, lease_run=None,
                failure_reason=None))

    def stats(self, now: datetime | None = None) -> list[tuple[str, str, str | None, int, float]]:
        """(channel, status, failure reason, count, age in seconds of the oldest) of the
        items not sent: the outbox's depth, age and failures, for /metrics."""
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.channel, outbox.c.status, outbox.c.failure_reason,
                                       func.count(), func.min(outbox.c.created_at))
                                .where(outbox.c.status.in_(("pending", "sending", "failed")))
                                .group_by(outbox.c.channel, outbox.c.status,
                                          outbox.c.failure_reason)).all()
        return [(ch, st, reason, int(n), max(0.0, (now - aware(oldest)).total_seconds())
                 if oldest is not None else 0.0) for ch, st, reason, n, oldest in rows]

    def delivery_states(self, award_ids: Sequence[str]) -> dict[str, str]:
        """Each award's email delivery state: sent, queued (pending, sending: with a retry
        due), failed, cancelled; none when nothing was queued for it."""
        states: dict[str, str] = {}
        rank = {"failed": 4, "queued": 3, "cancelled": 2, "sent": 1}
        with self.engine.connect() as conn:
            for chunk in chunks(list(award_ids)):
                for award_id, status in conn.execute(
                        select(outbox.c.award_id, outbox.c.status).where(
                            outbox.c.award_id.in_(chunk), outbox.c.channel == "email",
                            outbox.c.key.like("email:%"))):
                    state = "queued" if status in ("pending", "sending") else status
                    if rank.get(state, 0) > rank.get(states.get(award_id, ""), 0):
                        states[award_id] = state
        return states

    def items(self, channel: str | None = None, *, award_id: str | None = None,
              award_ids: Sequence[str] | None = None) -> list[OutboxItem]:
        """Every item (of a channel, of an award or of some awards), oldest first."""
        q = select(outbox).order_by(outbox.c.id)
        if channel:
            q = q.where(outbox.c.channel == channel)
        if award_id:
            q = q.where(outbox.c.award_id == award_id)
        with self.engine.connect() as conn:
            if award_ids is None:
                return [_item(r) for r in conn.execute(q)]
            return sorted((_item(r) for chunk in chunks(list(award_ids))
                           for r in conn.execute(q.where(outbox.c.award_id.in_(chunk)))),
                          key=lambda i: i.id)

    def make_due(self, item_ids: Sequence[int], now: datetime | None = None) -> int:
        """Make these waiting items due now (an administrator fixed what refused them)."""
        with self.engine.begin() as conn:
            return sum(conn.execute(update(outbox).where(
                outbox.c.id.in_(chunk), outbox.c.status == "pending").values(
                next_attempt_at=now or datetime.now(UTC))).rowcount for chunk in chunks(item_ids))

    def reset(self, key: str) -> bool:
        """Make a sent or failed item due again (re-send)."""
        with self.engine.begin() as conn:
            return conn.execute(update(outbox).where(outbox.c.key == key).values(
                status="pending", next_attempt_at=datetime.now(UTC), lease_until=None)).rowcount == 1
