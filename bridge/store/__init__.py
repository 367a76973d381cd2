"""The store: one object over the database, with one part per concern, that every step goes through.

Nothing outside this package reads or writes its tables; what crosses is the rows of `rows.py`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from bridge.store import db, erasure_key, schema
from bridge.store.admin import Admin
from bridge.store.awards import STATUS_LIST_BITS, STATUS_LIST_ID, Awards
from bridge.store.erasure import Erasure
from bridge.store.facts import Facts, LearnerQueue
from bridge.store.ingest import IngestResult
from bridge.store.meetups import Meetups, Refreshed
from bridge.store.outbox import Outbox
from bridge.store.rows import (
    Award,
    Badge,
    CheckIn,
    Learner,
    ListedAward,
    MeetupSession,
    NewAward,
    NewCheckIn,
    NewOutboxItem,
    NewSession,
    OutboxItem,
    Presence,
    Run,
    RunError,
    SessionRoute,
    StatusSlot,
    Validity,
)
from bridge.store.runs import Runs

__all__ = [
    "Store", "Admin", "Runs", "Facts", "LearnerQueue", "Awards", "Outbox", "Erasure", "IngestResult",
    "Meetups", "Refreshed", "MeetupSession", "NewSession", "CheckIn", "NewCheckIn", "SessionRoute",
    "Award", "Badge", "Learner", "ListedAward", "NewAward", "NewOutboxItem", "OutboxItem",
    "Presence", "Run", "RunError", "StatusSlot", "Validity", "STATUS_LIST_BITS", "STATUS_LIST_ID",
]


class Store:
    """All of badge-bridge's state. `runs`: the record of runs; `facts`: learners, identities,
    facts, watermarks and the queues they feed; `awards`: badges, awards, status-list slots;
    `outbox`: deliveries; `erasure`: forgetting a learner; `meetups`: meetup sessions, their
    check-ins and the check-in page's rate limits; `admin`: the web console's accounts,
    sessions, audit log and views."""

    url: str
    engine: Engine

    def __init__(self, url: str, *, migrate: bool = True, keys_dir: Path | None = None) -> None:
        """`keys_dir`: the keys folder, where the erasure record's key is (default, for an
        SQLite file: `keys` next to it, as the config's data_dir lays them out)."""
        engine = db.open_engine(url)
        if migrate:
            db.upgrade(engine)
        erasure_key.attach(engine, keys_dir or db.default_keys_dir(url))
        if migrate:
            erasure_key.rekey(engine)
        self._attach(url, engine)

    @classmethod
    def read_only_copy(cls, url: str, keys_dir: Path | None = None) -> Store:
        """A store in memory holding a copy of the store at `url`, read without writing to it
        (see bridge.store.snapshot): what a dry run works on. Erasures are checked with the
        store's key, read only (never created)."""
        from bridge.store.snapshot import memory_copy

        store = cls.__new__(cls)
        engine = memory_copy(url)
        erasure_key.attach(engine, keys_dir or db.default_keys_dir(url))
        store._attach(f"memory copy of {db.redact(url)}", engine)
        return store

    def _attach(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self.runs = Runs(self.engine)
        self.facts = Facts(self.engine)
        self.awards = Awards(self.engine)
        self.outbox = Outbox(self.engine)
        self.erasure = Erasure(self.engine)
        self.meetups = Meetups(self.engine)
        self.admin = Admin(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def revision(self) -> str | None:
        """The schema's Alembic revision."""
        return db.current_revision(self.engine)

    def counts(self) -> dict[str, int]:
        """What /metrics and the demo report: learners, facts, awards, emails sent."""
        outbox = schema.outbox
        with self.engine.connect() as conn:
            return {
                "learners": conn.execute(select(func.count()).select_from(schema.learners)).scalar_one(),
                "facts": conn.execute(select(func.count()).select_from(schema.facts)).scalar_one(),
                "awards": conn.execute(select(func.count()).select_from(schema.awards)).scalar_one(),
                "emails_sent": conn.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.channel == "email", outbox.c.status == "sent")).scalar_one(),
            }
