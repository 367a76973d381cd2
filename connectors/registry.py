"""Finding connectors: the `badge_bridge.connectors` entry point, built-in ones included.

A third party ships a connector by declaring that entry point in its own package. The registry
is handed to `bridge.config.load_config`, which validates each source with its connector's model.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from bridge.config import Config, SourceConfig, load_config
from bridge.errors import NotFound

from .base import Connector

__all__ = ["Registry", "REGISTRY", "load"]

GROUP = "badge_bridge.connectors"


class Registry:
    """The connector classes registered under the entry point, loaded on first use."""

    @staticmethod
    @cache
    def _entry_points() -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=GROUP)}

    def kinds(self) -> list[str]:
        return sorted(self._entry_points())

    def connector_class(self, kind: str) -> type[Connector]:
        """The class registered for `kind`; NotFound naming the known kinds otherwise."""
        eps = self._entry_points()
        if kind not in eps:
            raise NotFound(f"unknown source kind {kind!r}; known kinds: {', '.join(sorted(eps))}")
        cls: type[Connector] = eps[kind].load()
        return cls

    def config_model(self, kind: str) -> type[SourceConfig]:
        return self.connector_class(kind).config_model

    def make(self, source_id: str, config: SourceConfig) -> Connector:
        """A connector for one configured source."""
        return self.connector_class(config.kind)(source_id, config)  # type: ignore[call-arg]


REGISTRY = Registry()


def load(path: str | Path | None, *, secrets: bool = True) -> Config:
    """The config at `path` (or $BADGE_BRIDGE_CONFIG), its sources checked by their connectors;
    `secrets=False` leaves the sources' secrets to be read when a connector needs them."""
    return load_config(path, REGISTRY, secrets=secrets)
