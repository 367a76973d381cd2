"""The store's record of runs: who runs them, when each started, last said it was alive and
ended, how it went, and every error with its place.

A run's report is kept as JSON in `stats`; its errors are rows, so a tool can list them.

A run killed mid-way (SIGKILL, a crash, a machine lost) cannot say so. It is told apart from a
live one by two signs, both kept on its row: its process (host and pid), checked at once on
the same host, and its heartbeat, refreshed every HEARTBEAT seconds by the run, which a run on
another host (a Celery worker) is judged by. A run whose process is gone, or whose heartbeat
is older than STALE, is *interrupted*: the next run to begin marks it so, frees the outbox items
it had leased (they are taken up at once, not when the lease ends) and says it took its work
over (`resumed`). Every step being idempotent, that is all finishing its work needs.
"""

from __future__ import annotations

import builtins
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from bridge.errors import BridgeError, DeliveryError, SourceError
from bridge.model import Run, RunError
from bridge.redact import scrub
from bridge.store.rows import aware
from bridge.store.schema import outbox, run_errors, runs

__all__ = ["Runs", "Failures", "HEARTBEAT", "STALE", "HOST"]

HEARTBEAT = 15.0  # seconds between two heartbeats of a running run
STALE = timedelta(seconds=60)  # a heartbeat older than this: the run is no longer alive
HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: the signal said it exists


def _alive(row: Any, now: datetime) -> bool:
    """Whether a run marked running still runs (see the module's docstring)."""
    if row.host == HOST and row.pid is not None and not _pid_alive(row.pid):
        return False
    beat = aware(row.heartbeat_at) or aware(row.started_at)
    return beat is not None and now - beat <= STALE


def _step_of(error: BridgeError) -> str:
    step = getattr(error, "step", None)
    if isinstance(step, str) and step:
        return step
    if isinstance(error, DeliveryError):
        return "email"
    endpoint = getattr(error, "endpoint", "") or ""
    return "push" if endpoint.startswith("push") else "pull"


@dataclass
class Runs:
    engine: Engine

    def begin(self, sources: Sequence[str], trigger: str = "cli") -> int:
        """A new run, marked running by this process; the runs found interrupted first have
        their leases freed and are named in its `resumed`."""
        resumed = self.reap()
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            return int(conn.execute(insert(runs).values(
                started_at=now, status="running", trigger=trigger, sources=list(sources),
                stats={}, host=HOST, pid=os.getpid(), heartbeat_at=now, resumed=resumed)
                .returning(runs.c.id)).scalar_one())

    def heartbeat(self, run_id: int) -> None:
        """The run is alive (called every HEARTBEAT seconds while it runs)."""
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "running")
                         .values(heartbeat_at=datetime.now(UTC)))

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC), status=status,
                stats=stats))

    def reap(self, now: datetime | None = None) -> list[int]:
        """Mark the runs that stopped running without finishing `interrupted`, and make the
        outbox items they had leased due now; their ids."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            rows = conn.execute(select(runs.c.id, runs.c.host, runs.c.pid, runs.c.heartbeat_at,
                                       runs.c.started_at).where(runs.c.status == "running")).all()
            dead = [r.id for r in rows if not _alive(r, now)]
            if dead:
                conn.execute(update(runs).where(runs.c.id.in_(dead), runs.c.status == "running")
                             .values(status="interrupted"))
                conn.execute(update(outbox).where(outbox.c.status == "sending",
                                                  outbox.c.lease_run.in_(dead))
                             .values(status="pending", lease_until=None, next_attempt_at=now,
                                     lease_run=None))
        return dead

    def record_error(self, run_id: int, error: BridgeError, *, step: str | None = None,
                     reason: str | None = None, learner: str | None = None, count: int = 1) -> None:
        """One error line of a run, scrubbed: secrets in URLs masked, email addresses left out
        (a run's errors are read by whoever reads the runs, and outlive an erasure). `error` is a SourceError (its source, endpoint, status,
        field, code and fix say where) or a DeliveryError (an email: source "smtp"). `step`
        defaults to the error's own (`error.step`), else email for a DeliveryError, push for
        an endpoint starting with "push", else pull; `reason` to the error's code (or its
        `reason`); `learner` must not be personal data (a learner id, an award id)."""
        fix = getattr(error, "fix", None)
        detail = getattr(error, "detail", None) or str(error)
        with self.engine.begin() as conn:
            conn.execute(insert(run_errors).values(
                run_id=run_id, source=scrub(getattr(error, "source", None) or "smtp")[:100],
                endpoint=scrub(getattr(error, "endpoint", "") or "")[:300],
                status_code=getattr(error, "status", None),
                code=(getattr(error, "code", None) or None) and str(error.code)[:100],  # type: ignore[attr-defined]
                field=(getattr(error, "field", None) or None) and scrub(error.field)[:200],  # type: ignore[attr-defined]
                message=scrub(detail + (f" — fix: {fix}" if fix else "")),
                at=datetime.now(UTC), step=step or _step_of(error),
                reason=(reason or getattr(error, "reason", None) or getattr(error, "code", None)
                        or type(error).__name__),
                learner=learner, count=max(1, count)))

    def errors(self, run_id: int) -> list[RunError]:
        with self.engine.connect() as conn:
            return [RunError(r.source, r.endpoint, r.status_code, r.code, r.field, r.message,
                             r.step, r.reason, r.learner, int(r._mapping["count"]), aware(r.at))
                    for r in conn.execute(select(run_errors).where(run_errors.c.run_id == run_id)
                                          .order_by(run_errors.c.id))]

    def list(self, limit: int = 20, *, status: str | None = None,
             before: int | None = None) -> list[Run]:
        """The latest runs, newest first (`before` an id: the page after it). A run whose
        process is gone shows as interrupted before any run marks it so."""
        q = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if before is not None:
            q = q.where(runs.c.id < before)
        if status is not None and status != "interrupted":
            q = q.where(runs.c.status == status)
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            counts: dict[int, int] = dict(conn.execute(  # type: ignore[arg-type]
                select(run_errors.c.run_id, func.count()).where(
                    run_errors.c.run_id.in_([r.id for r in rows])).group_by(run_errors.c.run_id)
            ).all()) if rows else {}
        out = [self._run(r, now, int(counts.get(r.id, 0))) for r in rows]
        return [r for r in out if status is None or r.status == status]

    def last(self, limit: int = 10) -> builtins.list[Run]:
        return self.list(limit)

    def get(self, run_id: int) -> Run | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).one_or_none()
            if row is None:
                return None
            count = conn.execute(select(func.count()).select_from(run_errors).where(
                run_errors.c.run_id == run_id)).scalar_one()
        return self._run(row, datetime.now(UTC), int(count))

    def last_by_source(self) -> dict[str, Run]:
        """Each source's latest run that finished (ok or partial), for readiness checks."""
        seen: dict[str, Run] = {}
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            for r in conn.execute(select(runs).where(runs.c.status.in_(("ok", "partial")))
                                  .order_by(runs.c.id.desc()).limit(500)):
                for source in r.sources or []:
                    seen.setdefault(source, self._run(r, now, 0))
        return seen

    def status_counts(self) -> dict[str, int]:
        """How many runs ended in each status (a dead run counted as interrupted)."""
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            counts = {s: int(n) for s, n in conn.execute(
                select(runs.c.status, func.count()).group_by(runs.c.status)).all()}
            running = conn.execute(select(runs.c.id, runs.c.host, runs.c.pid, runs.c.heartbeat_at,
                                          runs.c.started_at).where(runs.c.status == "running")).all()
        dead = sum(1 for r in running if not _alive(r, now))
        if dead:
            counts["running"] -= dead
            counts["interrupted"] = counts.get("interrupted", 0) + dead
        return counts

    @staticmethod
    def _run(r: Any, now: datetime, errors: int) -> Run:
        status = r.status
        if status == "running" and not _alive(r, now):
            status = "interrupted"
        return Run(r.id, aware(r.started_at), aware(r.finished_at), status, r.trigger,
                   list(r.sources or []), dict(r.stats or {}), r.host, r.pid,
                   aware(r.heartbeat_at), list(r.resumed or []), errors)


class Failures:
    """Alike failures of one step (emails of one mail server…) counted by reason, recorded on
    the run as one line per reason saying how many: 300 emails the server refused are one line."""

    def __init__(self, step: str, source: str, endpoint: str = "") -> None:
        self.step, self.source, self.endpoint = step, source, endpoint
        self.by_reason: dict[str, tuple[int, str, str | None]] = {}

    def add(self, reason: str, message: str, learner: str | None = None) -> None:
        count, first, ref = self.by_reason.get(reason, (0, message, learner))
        self.by_reason[reason] = (count + 1, first, ref)

    def counts(self) -> dict[str, int]:
        return {reason: n for reason, (n, _, _) in self.by_reason.items()}

    def record(self, runs: Runs, run_id: int) -> None:
        """One line per reason on the run; a line the run already has for the same step,
        place and reason (an earlier round of the run) counts these too."""
        for reason, (count, message, learner) in self.by_reason.items():
            with runs.engine.begin() as conn:
                added = conn.execute(update(run_errors).where(
                    run_errors.c.run_id == run_id, run_errors.c.step == self.step,
                    run_errors.c.source == self.source, run_errors.c.endpoint == self.endpoint[:300],
                    run_errors.c.reason == reason).values(
                    count=run_errors.c.count + count, learner=None)).rowcount
            if not added:
                runs.record_error(run_id, SourceError(message, source=self.source,
                                                      endpoint=self.endpoint, code=reason),
                                  step=self.step, reason=reason,
                                  learner=learner if count == 1 else None, count=count)
