"""What /metrics exposes, through prometheus_client: the store's counts, read at each scrape.

Each app has its own registry, so two apps in one process (tests, a demo beside a server) never mix.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


def metrics_registry(store: Store) -> CollectorRegistry:
    """A registry of this store's metrics alone (not the process-wide default one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCounts(store))
    return registry
