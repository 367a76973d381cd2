"""The store's record of runs on SQLite and PostgreSQL: the typed API the admin tools read, a
dead run worked out and taken over, errors with their place, the read-only copy of a dry run."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bridge.errors import DeliveryError, SourceError
from bridge.model import Batch, Identity, Run, RunError
from bridge.store import NewOutboxItem, Store
from bridge.store.runs import Failures
from bridge.store.schema import learners, runs


def test_runs_list_get_and_errors_are_typed_and_say_where(db_url) -> None:
    store = Store(db_url)
    run = store.runs.begin(["moodle", "sheet"], "schedule")
    store.runs.record_error(run, SourceError("no such course", source="moodle",
                                             endpoint="core_course_get_courses", status=404,
                                             field="courseid", code="invalidrecord", fix="check it"))
    store.runs.record_error(run, DeliveryError("recipient refused (550)", reason="recipient_refused"),
                            learner="award-1")
    failures = Failures("push", "moodle", "core_completion_override_activity_completion_status")
    for _ in range(3):
        failures.add("nopermissions", "missing capability")
    failures.record(store.runs, run)
    store.runs.finish(run, "partial", {"awarded": 2})
    got = store.runs.get(run)
    assert isinstance(got, Run) and got.status == "partial" and got.errors == 3
    assert got.trigger == "schedule" and got.sources == ["moodle", "sheet"] and got.pid
    assert store.runs.list(5) == [got] and store.runs.list(5, status="ok") == []
    pull, email, push = store.runs.errors(run)
    assert isinstance(pull, RunError)
    assert (pull.step, pull.reason, pull.status_code, pull.field) == ("pull", "invalidrecord", 404, "courseid")
    assert pull.message == "no such course — fix: check it"
    assert (email.step, email.source, email.reason, email.learner) == ("email", "smtp", "recipient_refused", "award-1")
    assert (push.step, push.count, push.reason) == ("push", 3, "nopermissions")
    assert store.runs.get(run + 100) is None
    assert store.runs.last_by_source()["sheet"].id == run


def test_a_dead_runs_leases_are_freed_by_the_next_run(db_url) -> None:
    store = Store(db_url)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = store.runs.begin(["m"])
    with store.engine.begin() as conn:  # a run of a process of this host that no longer exists
        conn.execute(update(runs).where(runs.c.id == dead).values(pid=int(gone.stdout)))
    store.outbox.add([NewOutboxItem(key=f"k{i}", channel="t", payload={}) for i in range(2)])
    leased = store.outbox.claim("t", run_id=dead)
    assert len(leased) == 2 and store.outbox.claim("t") == []
    assert store.runs.get(dead).status == "interrupted"  # seen at once, before any run marks it
    nxt = store.runs.begin(["m"])
    assert store.runs.get(nxt).resumed == [dead]
    assert sorted(i.id for i in store.outbox.claim("t")) == sorted(i.id for i in leased)
    assert store.runs.begin(["m"]) and store.runs.list(1)[0].resumed == []  # taken over once
    live = store.runs.get(nxt)
    assert live.status == "running"  # this process runs it, and its heartbeat is fresh
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == nxt).values(
            heartbeat_at=datetime.now(UTC) - timedelta(minutes=2)))
    assert store.runs.get(nxt).status == "interrupted"  # alive, but silent for too long


def test_the_dry_run_copy_holds_the_store_and_writes_nothing_to_it(db_url) -> None:
    store = Store(db_url)
    store.facts.ingest(store.runs.begin(["m"]), Batch(identities=[
        Identity("m", str(i), email=f"l{i}@example.org") for i in range(30)]))
    with store.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(learners)).scalar_one()
    copy = Store.read_only_copy(db_url)
    assert copy.engine.url.drivername == "sqlite"  # in memory, whatever the store is
    assert copy.facts.learner_by_email("l7@example.org") is not None
    copy.facts.ingest(copy.runs.begin(["m"]), Batch(identities=[Identity("m", "new", email="n@example.org")]))
    assert copy.facts.learner_by_email("n@example.org") is not None
    copy.close()
    assert store.facts.learner_by_email("n@example.org") is None
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(learners)).scalar_one() == before
    assert len(store.runs.list(10)) == 1
