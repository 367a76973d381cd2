"""Leasing the outbox: the due items are read in the order of their index (earliest due first,
then leases that ran out), so that leasing a batch reads a batch, not the whole backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bridge.store import NewOutboxItem, Store
from bridge.store.schema import outbox


def test_the_earliest_due_are_leased_first_then_the_leases_that_ran_out(db_url) -> None:
    store = Store(db_url)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    store.outbox.add([NewOutboxItem(f"email:a-{n}", "email", {"award_id": f"a-{n}"}) for n in range(6)])
    store.outbox.add([NewOutboxItem("push:1:s:t", "push", {"x": 1})])
    ids = {i.key: i.id for i in store.outbox.items()}
    due = {"email:a-0": 5, "email:a-1": 1, "email:a-2": 3, "email:a-3": 2, "email:a-5": -60}
    with store.engine.begin() as conn:
        for key, minutes in due.items():
            conn.execute(update(outbox).where(outbox.c.id == ids[key]).values(
                next_attempt_at=now - timedelta(minutes=10 - minutes)))
        # a-4 is being sent by a run whose lease ran out; a-5 is not due yet.
        conn.execute(update(outbox).where(outbox.c.id == ids["email:a-4"]).values(
            status="sending", lease_until=now - timedelta(seconds=1)))
        conn.execute(update(outbox).where(outbox.c.id == ids["email:a-5"]).values(
            next_attempt_at=now + timedelta(minutes=1)))
    first = store.outbox.claim("email", limit=2, now=now)
    assert [i.key for i in first] == sorted(["email:a-1", "email:a-3"], key=ids.get)
    rest = store.outbox.claim("email", limit=10, now=now)
    assert {i.key for i in rest} == {"email:a-0", "email:a-2", "email:a-4"}
    assert store.outbox.claim("email", limit=10, now=now) == []
    assert [i.key for i in store.outbox.claim("push")] == ["push:1:s:t"]
    # Leased again once the lease runs out, never before.
    later = now + timedelta(minutes=11)
    assert {i.key for i in store.outbox.claim("email", limit=10, now=later)} == {
        "email:a-0", "email:a-1", "email:a-2", "email:a-3", "email:a-4", "email:a-5"}
