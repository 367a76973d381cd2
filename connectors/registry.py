"""Finding connectors: the `badge_bridge.connectors` entry point, built-in ones included.

A third party ships a connector by declaring that entry point in its own package. The registry
is handed to `bridge.config.load_config`, which validates each source with its connector's model;
push routes are then checked against the receiving source's connector (its optional
`push_target_refusal(target, course)` says why a target cannot work).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from bridge.config import Config, SourceConfig, load_config
from bridge.errors import ConfigError, NotFound
from bridge.tomlloc import load_toml

from .base import Connector

__all__ = ["Registry", "REGISTRY", "load", "check_push_routes"]

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
    config = load_config(path, REGISTRY, secrets=secrets)
    check_push_routes(config, REGISTRY)
    return config


def push_route_problems(config: Config, registry: Registry) -> list[ConfigError]:
    """Every `[[sources.X.push]]` route that names no configured source ("did you mean" the
    closest), or a target its connector cannot take; each at the route's line."""
    import difflib

    lines = None
    problems: list[ConfigError] = []
    for sid, source in config.sources.items():
        for i, route in enumerate(getattr(source, "push", None) or []):
            problem: str | None
            if route.to not in config.sources:
                close = difflib.get_close_matches(route.to, list(config.sources), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problem, field = (f"no source {route.to!r} to push to{hint}; configured sources: "
                                  f"{', '.join(sorted(config.sources))}"), "to"
            else:
                cls = registry.connector_class(config.sources[route.to].kind)
                refusal = getattr(cls, "push_target_refusal", None)
                problem = refusal(route.target, route.course) if refusal else None
                field = "target"
            if problem:
                if lines is None:
                    lines = load_toml(config.file)[1]
                problems.append(ConfigError(problem, file=str(config.file),
                                            key=f"sources.{sid}.push[{i}].{field}",
                                            line=lines.line(("sources", sid, "push", i, field))))
    return problems


def check_push_routes(config: Config, registry: Registry) -> None:
    """Every `[[sources.X.push]]` route names a configured source whose connector can take its
    target; a ConfigError listing every route that does not (one line each) otherwise."""
    problems = push_route_problems(config, registry)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        error = ConfigError("; ".join(str(p) for p in problems), file=str(config.file))
        error.lines = [str(p) for p in problems]  # type: ignore[attr-defined]
        raise error
