"""A badge definition as the issuer needs it: texts, image, alignments, expiry, condition.

`Duration` keeps years and months apart from days so that expiry lands on the same calendar day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .nodes import Node

__all__ = ["Duration", "Alignment", "BadgeDef", "LANGS"]

LANGS = ("fr", "en")


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar duration: P2Y is two years later on the same day, not 730 days."""

    years: int = 0
    months: int = 0
    days: int = 0

    def after(self, moment: datetime) -> datetime:
        months = moment.month - 1 + self.months + 12 * self.years
        year, month = moment.year + months // 12, months % 12 + 1
        # 31 January plus one month is the last day of February, not an error.
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day) + timedelta(days=self.days)

    def __str__(self) -> str:
        parts = [f"{n}{unit}" for n, unit in ((self.years, "Y"), (self.months, "M"),
                                              (self.days, "D")) if n]
        return "P" + ("".join(parts) or "0D")


@dataclass(frozen=True, slots=True)
class Alignment:
    """A competency or framework the badge is aligned to (OB AlignmentObject)."""

    name: str
    url: str
    code: str | None = None
    framework: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class BadgeDef:
    """One badge from one rules file, validated; `version` changes whenever the file does."""

    id: str
    name: dict[str, str]
    description: dict[str, str]
    criteria: dict[str, str]
    image: Path | None
    tags: tuple[str, ...]
    alignments: tuple[Alignment, ...]
    expires_after: Duration | None
    renewable: bool
    version: str
    file: str
    condition: Node

    def expiry_from(self, issued_at: datetime) -> datetime | None:
        """When an award issued at `issued_at` expires, or None if it never does."""
        return None if self.expires_after is None else self.expires_after.after(issued_at)

    def text(self, lang: str, field: str) -> str:
        """`name`, `description` or `criteria` in `lang`, falling back to the other language."""
        texts: dict[str, str] = getattr(self, field)
        for candidate in (lang, *LANGS):
            if texts.get(candidate):
                return texts[candidate]
        return ""
