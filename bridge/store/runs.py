"""The store's record of runs: when each started and ended, how it went, its sources' errors.

A run's report is kept as JSON in `stats`; its errors are rows, so a tool can list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from bridge.errors import SourceError
from bridge.redact import scrub
from bridge.store.rows import Run, RunError, aware
from bridge.store.schema import run_errors, runs

__all__ = ["Runs"]


@dataclass
class Runs:
    engine: Engine

    def begin(self, sources: Sequence[str], trigger: str = "cli") -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(insert(runs).values(
                started_at=datetime.now(UTC), status="running", trigger=trigger,
                sources=list(sources), stats={}).returning(runs.c.id)).scalar_one())

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=datetime.now(UTC), status=status, stats=stats))

    def record_error(self, run_id: int, error: SourceError) -> None:
        """Kept with the run, scrubbed: secrets in URLs masked, email addresses left out (a run's
        errors are read by whoever reads the runs, and outlive an erasure)."""
        with self.engine.begin() as conn:
            conn.execute(insert(run_errors).values(
                run_id=run_id, source=scrub(error.source)[:100], endpoint=scrub(error.endpoint)[:300],
                status_code=error.status, code=(error.code or None) and error.code[:100],
                field=(error.field or None) and scrub(error.field)[:200],
                message=scrub(error.detail + (f" — fix: {error.fix}" if error.fix else "")),
                at=datetime.now(UTC)))

    def errors(self, run_id: int) -> list[RunError]:
        with self.engine.connect() as conn:
            return [RunError(r.source, r.endpoint, r.status_code, r.code, r.field, r.message)
                    for r in conn.execute(select(run_errors).where(run_errors.c.run_id == run_id)
                                          .order_by(run_errors.c.id))]

    def last(self, limit: int = 10) -> list[Run]:
        with self.engine.connect() as conn:
            return [Run(r.id, aware(r.started_at), aware(r.finished_at), r.status, r.trigger,
                        list(r.sources), dict(r.stats))
                    for r in conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit))]
