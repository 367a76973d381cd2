"""Counters of a run's steps (emails sent, pushes retried…), added up across a run's rounds.

Each step's counters are a dataclass of ints deriving from `Counts`; `as_dict` is their JSON.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Self

__all__ = ["Counts"]


class Counts:
    """Mixin for a dataclass whose fields are all counts."""

    def __iadd__(self, other: Self) -> Self:
        for f in fields(self):  # type: ignore[arg-type]
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, int]:
        return asdict(self)  # type: ignore[call-overload]
