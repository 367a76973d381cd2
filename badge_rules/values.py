"""Readers for the scalar values rule files and test cases share: dates, durations, texts.

Each raises ValueError with the "expected …" half of a message; callers add file, line and key.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bridge.i18n import format_list
from bridge.i18n import gettext as _

from .badge import LANGS, Duration

__all__ = ["read_moment", "read_duration", "read_texts", "shown"]

_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


def shown(value: Any) -> str:
    """A value as the user typed it, for "got …" in a message."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _("a table")
    if isinstance(value, list):
        return _("a list")
    return str(value)


def read_moment(value: Any, end: bool = False) -> datetime:
    """A TOML date or date-time (or its ISO text) as UTC; an `end` date covers that whole day."""
    if isinstance(value, str):
        try:
            value = (date.fromisoformat(value) if len(value) == 10
                     else datetime.fromisoformat(value))
        except ValueError:
            value = None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        moment = datetime.combine(value, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    raise ValueError(_("expected a date such as {example} (year-month-day)").format(example="2025-09-01"))


def read_duration(value: Any) -> Duration:
    """"P2Y", "P6M", "P1Y6M", "P2W", "P90D", or a whole number of days."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return Duration(days=value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match and any(match.groups()):
        years, months, weeks, days = (int(g or 0) for g in match.groups())
        if years or months or weeks or days:
            return Duration(years, months, days + 7 * weeks)
    raise ValueError(_("expected an ISO-8601 duration such as {examples}, or a number of days").format(
        examples=format_list(['"P2Y"', '"P6M"', '"P90D"'], "or")))


def read_texts(value: Any) -> dict[str, str]:
    """One text for both languages, or a table { fr = "…", en = "…" } with at least one."""
    if isinstance(value, str) and value.strip():
        return dict.fromkeys(LANGS, value.strip())
    if (isinstance(value, dict) and value and set(value) <= set(LANGS)
            and all(isinstance(v, str) and v.strip() for v in value.values())):
        return {lang: text.strip() for lang, text in value.items()}
    raise ValueError(_("expected text, or a table such as {example}").format(
        example='{ fr = "…", en = "…" }'))
