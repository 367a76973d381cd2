"""What /metrics exposes, through prometheus_client, read from the store at each scrape: the
web app serves it while the runs happen in other processes (the daemon, Celery workers), so
the store is the one place that knows.

- badge_bridge_learners, _facts, _awards, _emails_sent: the store's counts;
- badge_bridge_runs{status}: runs by status (a run whose process is gone counts as interrupted);
- badge_bridge_last_run_requests{source,status}: the requests of each source's last finished
  run by HTTP status ("error": no answer), and _last_run_age_seconds{source},
  _last_run_errors{source};
- badge_bridge_outbox_items{channel,status}, _outbox_oldest_seconds{channel,status}: the
  outbox's depth and age (items not sent), and _outbox_failures{channel,reason}: the items
  waiting or failed, by the reason of their last failure.

Each app has its own registry, so two apps in one process (tests, a demo beside a server) never mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge.model import RUN_STATUSES
from bridge.store import Store

__all__ = ["metrics_registry"]

_HELP = {
    "learners": "Learners known, from every source",
    "facts": "Facts stored",
    "awards": "Awards written, revoked ones included",
    "emails_sent": "Award emails sent",
}


class _StoreCounts(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        for name, value in self.store.counts().items():
            yield GaugeMetricFamily(f"badge_bridge_{name}", _HELP[name], value=value)
        runs = GaugeMetricFamily("badge_bridge_runs", "Runs by status", labels=["status"])
        counts = self.store.runs.status_counts()
        for status in RUN_STATUSES:
            runs.add_metric([status], counts.get(status, 0))
        yield runs
        now = datetime.now(UTC)
        requests = GaugeMetricFamily("badge_bridge_last_run_requests",
                                     "Requests of each source's last finished run, by HTTP status",
                                     labels=["source", "status"])
        age = GaugeMetricFamily("badge_bridge_last_run_age_seconds",
                                "Seconds since each source's last finished run ended", labels=["source"])
        errors = GaugeMetricFamily("badge_bridge_last_run_errors",
                                   "Errors of each source's last finished run", labels=["source"])
        for source, run in sorted(self.store.runs.last_by_source().items()):
            stats = (run.stats.get("sources") or {}).get(source) or {}
            for status, n in sorted((stats.get("statuses") or {}).items()):
                requests.add_metric([source, str(status)], n)
            ended = run.finished_at or run.started_at
            age.add_metric([source], max(0.0, (now - ended).total_seconds()))
            errors.add_metric([source], stats.get("errors", 0))
        yield requests
        yield age
        yield errors
        depth = GaugeMetricFamily("badge_bridge_outbox_items", "Outbox items not sent",
                                  labels=["channel", "status"])
        oldest = GaugeMetricFamily("badge_bridge_outbox_oldest_seconds",
                                   "Age of the oldest outbox item not sent", labels=["channel", "status"])
        failures = GaugeMetricFamily("badge_bridge_outbox_failures",
                                     "Outbox items waiting or failed, by their last failure's reason",
                                     labels=["channel", "reason"])
        sums: dict[tuple[str, str], tuple[int, float]] = {}
        by_reason: dict[tuple[str, str], int] = {}
        for channel, status, reason, n, seconds in self.store.outbox.stats(now):
            count, age_s = sums.get((channel, status), (0, 0.0))
            sums[(channel, status)] = (count + n, max(age_s, seconds))
            if reason:
                by_reason[(channel, reason)] = by_reason.get((channel, reason), 0) + n
        for (channel, status), (n, seconds) in sorted(sums.items()):
            depth.add_metric([channel, status], n)
            oldest.add_metric([channel, status], seconds)
        for (channel, reason), n in sorted(by_reason.items()):
            failures.add_metric([channel, reason], n)
        yield depth
        yield oldest
        yield failures


def metrics_registry(store: Store) -> CollectorRegistry:
    """A registry of this store's metrics alone (not the process-wide default one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCounts(store))
    return registry
