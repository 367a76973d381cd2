"""Two workers refreshing the same declared session at once: the one whose insert loses reads
again and finds nothing left to do, instead of failing its run (seen with two Celery workers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from bridge.store import NewSession, Store
from bridge.store.schema import meetup_sessions


def _session() -> NewSession:
    start = datetime(2026, 11, 14, 9, tzinfo=UTC)
    return NewSession(id="s1", source="rencontres", course="42", title="Atelier", place="Nice",
                      town="Nice", starts_at=start, ends_at=start + timedelta(hours=2),
                      timezone="Europe/Paris", tags=[], origin="config")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


def test_a_session_inserted_by_another_worker_meanwhile_is_not_an_error(store: Store,
                                                                         monkeypatch: Any) -> None:
    original, tries = store.meetups._refresh, []

    def losing_the_race(sessions: Any, now: datetime) -> Any:
        tries.append(1)
        if len(tries) == 1:  # the other worker inserted first; this worker's insert meets it
            values = {k: getattr(_session(), k) for k in NewSession.__dataclass_fields__}
            for _ in range(2):
                with store.engine.begin() as conn:
                    conn.execute(insert(meetup_sessions).values(**values, link_generation=1,
                                                                created_at=now))
        return original(sessions, now)

    monkeypatch.setattr(store.meetups, "_refresh", losing_the_race)
    result = store.meetups.refresh([_session()])
    assert len(tries) == 2 and (result.created, result.updated) == (0, 0)
    assert [s.id for s in store.meetups.sessions()] == ["s1"]
