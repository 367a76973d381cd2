"""Step 1 of a run: pull each source and store what it sends, batch by batch.

One broken source never stops the others: its error is recorded on the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bridge import logs
from bridge.config import Config
from bridge.errors import SourceError, StoreError, raised_at
from bridge.model import FactKind, Identity
from bridge.progress import NO_PROGRESS, Progress
from bridge.store import IngestResult, Store
from connectors.base import Connector
from connectors.registry import REGISTRY

__all__ = ["StoreState", "SourceStats", "pull_sources"]

log = logging.getLogger("badge_bridge.pull")


class StoreState:
    """The store as one source's connector sees it (the SourceState protocol)."""

    def __init__(self, store: Store, source: str, run_id: int, full: bool = False,
                 courses: Sequence[str] | None = None, dry_run: bool = False) -> None:
        self.store, self.source, self.run_id, self.full = store, source, run_id, full
        self.courses = list(courses) if courses else None
        self.dry_run = dry_run  # the connector must change nothing outside the store (files)
        self.errors: list[SourceError] = []
        self.warnings: list[str] = []

    def watermark(self, course: str, stream: str) -> str | None:
        return self.store.facts.watermark(self.source, course, stream)

    def watermarks(self, course: str, prefix: str) -> dict[str, str]:
        return self.store.facts.watermarks(self.source, course, prefix)

    def holding(self, course: str, kind: FactKind, item: str = "") -> set[str]:
        return self.store.facts.holding(self.source, course, kind, item)

    def known_identities(self) -> dict[str, Identity]:
        return self.store.facts.identities(self.source)

    def identities_of(self, external_ids: Iterable[str]) -> dict[str, Identity]:
        return self.store.facts.identities_by_external(self.source, external_ids)

    def report(self, error: SourceError) -> None:
        log.warning("%s", error)
        self.errors.append(error)
        self.store.runs.record_error(self.run_id, error)

    def warn(self, warning: SourceError) -> None:
        """Kept in the run's stats; the run stays `ok`."""
        log.warning("%s", warning)
        if str(warning) not in self.warnings:
            self.warnings.append(str(warning))


@dataclass
class SourceStats:
    """What one source's pull brought in this run; `learners_without_email` counts the whole
    source (who still cannot be matched or awarded), not this run's newcomers."""

    batches: int = 0
    new_facts: int = 0
    changed_facts: int = 0
    new_learners: int = 0
    learners_without_email: int = 0
    errors: int = 0
    requests: int = 0
    warnings: list[str] = field(default_factory=list)
    # What was fetched: requests by endpoint, and by HTTP status ("error": no answer).
    endpoints: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pull_sources(config: Config, store: Store, run_id: int, only: list[str] | None = None,
                 connectors: dict[str, Connector] | None = None,
                 full: bool = False, progress: Progress = NO_PROGRESS,
                 dry_run: bool = False, courses: Sequence[str] | None = None) -> dict[str, SourceStats]:
    """Pull every enabled source (or `only` these); returns per-source stats. `full`: the
    connectors read every learner again, whatever their signals say. `progress` counts each
    source's requests (roster pages, per-learner reads) as they are made. `courses`: only
    these courses (one shard of a sync spread over workers)."""
    stats: dict[str, SourceStats] = {}
    for source_id, source_cfg in config.sources.items():
        if (only and source_id not in only) or (not only and not source_cfg.enabled):
            continue
        connector = (connectors or {}).get(source_id) or REGISTRY.make(source_id, source_cfg)
        state = StoreState(store, source_id, run_id, full, courses, dry_run)
        total = IngestResult()
        batches = 0
        http = getattr(connector, "http", None)
        with logs.context(source=source_id), progress.task(f"pull {source_id}") as task:
            if http is not None and hasattr(http, "on_request"):
                http.on_request = lambda _endpoint: task.advance()
            log.info("pull started")
            try:
                for batch in connector.pull(state):
                    try:
                        result = store.facts.ingest(run_id, batch)
                    except StoreError as exc:  # this batch alone (rolled back whole); the next proceed
                        state.report(SourceError(str(exc), source=source_id, endpoint="ingest",
                                                 code="store"))
                        continue
                    for refusal in result.refused:  # records left out, each alone
                        state.report(refusal)
                    # The learners to evaluate and push are queued in the store: a run of
                    # N learners keeps the counts, not two sets of N ids.
                    result.touched.clear()
                    result.to_push.clear()
                    total.merge(result)
                    batches += 1
            except SourceError as exc:
                state.report(exc)
            except Exception as exc:  # a connector bug must not stop the other sources
                log.error("source %s failed: %s at %s", source_id, type(exc).__name__, raised_at(exc))
                log.debug("source %s failed", source_id, exc_info=True)
                state.report(SourceError(f"unexpected {type(exc).__name__} ({raised_at(exc)})",
                                         source=source_id, endpoint="pull"))
            finally:
                endpoints = dict(connector.requests)
                statuses = dict(getattr(http, "by_status", {}) or {})
                if http is not None and hasattr(http, "on_request"):
                    http.on_request = None
                if connectors is None or source_id not in connectors:
                    connector.close()
            log.info("pull done: %d requests, %d new facts, %d changed, %d errors",
                     sum(endpoints.values()), total.new_facts, total.changed_facts, len(state.errors))
        stats[source_id] = SourceStats(
            batches=batches, new_facts=total.new_facts, changed_facts=total.changed_facts,
            new_learners=total.new_learners,
            learners_without_email=store.facts.without_email(source_id),
            errors=len(state.errors), requests=sum(endpoints.values()), warnings=state.warnings,
            endpoints=endpoints, statuses=statuses)
    return stats
