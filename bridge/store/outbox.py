"""The outbox: every delivery (an award's email, a presence pushed back) as a leased item.

A unique key per item makes queuing idempotent; a lease keeps two workers from sending one item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bridge.store.ingest import chunks
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
                    claimed.append(_item(r, r.attempts + 1))
        return claimed

    def done(self, item_id: int, result: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="sent", sent_at=datetime.now(UTC), result=result, last_error=None,
                lease_until=None))

    def retry(self, item_id: int, error: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="pending", next_attempt_at=at, last_error=error, lease_until=None))

    def failed(self, item_id: int, error: str, result: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(
                status="failed", last_error=error, result=result, lease_until=None))

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

    def reset(self, key: str) -> bool:
        """Make a sent or failed item due again (re-send)."""
        with self.engine.begin() as conn:
            return conn.execute(update(outbox).where(outbox.c.key == key).values(
                status="pending", next_attempt_at=datetime.now(UTC), lease_until=None)).rowcount == 1
