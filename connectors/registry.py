"""Finding connectors: the `badge_bridge.connectors` entry point, built-in ones included.

A third party ships a connector by declaring that entry point in its own package.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

__all__ = ["connector_class", "available_kinds", "make_connector"]

GROUP = "badge_bridge.connectors"


@cache
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_kinds() -> list[str]:
    return sorted(_entry_points())


def connector_class(kind: str) -> Any:
    """The class registered for `kind`; KeyError with the known kinds otherwise."""
    eps = _entry_points()
    if kind not in eps:
        raise KeyError(f"unknown source kind {kind!r}; known kinds: {', '.join(sorted(eps))}")
    return eps[kind].load()


def make_connector(source_id: str, config: Any, **kwargs: Any) -> Any:
    return connector_class(config.kind)(source_id, config, **kwargs)
