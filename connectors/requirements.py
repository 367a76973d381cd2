"""What a connector needs on its platform, declared once: roles, switches, plugins, credentials.

Each connector lists its `Requirement`s in one module; its errors take their `fix` from there,
and a probe command can walk the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Requirement", "index"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing the platform must grant, what it is for, how to see it, how to grant it."""

    key: str  # stable id inside the connector, e.g. "global_staff"
    what: str  # "role", "application", "switch", "plugin", "credential", "endpoint"
    name: str  # the platform's own name for it (is_staff, completion.enable_completion_tracking…)
    needed_for: str  # the feature that stops without it: "pull", "push", "course completion"…
    probe: str  # a request that shows it without changing anything, and what to look for
    fix: str  # what an administrator does, exactly
    optional: bool = False  # a warning when missing: the rest works without it


def index(requirements: tuple[Requirement, ...]) -> dict[str, Requirement]:
    """The requirements by key; a duplicate key is a programming error."""
    out = {r.key: r for r in requirements}
    assert len(out) == len(requirements), "duplicate requirement key"
    return out
