"""The evidence of an award in words: one sentence per fact, written with the names it carries.

Never an id: a fact without a name is told by what it is ("Completed a course").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.i18n import N_, format_date, format_percent, gettext

__all__ = ["moment", "sentence"]

# (kind, the names a sentence needs) -> the sentence; the first one whose names the fact has wins.
_SENTENCES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "presence": (
        (("title", "place"), N_("Attended “{title}”, {place}")),
        (("title",), N_("Attended “{title}”")),
        (("place", "course"), N_("Attended a session of “{course}”, {place}")),
        (("place",), N_("Attended a session, {place}")),
        (("course",), N_("Attended a session of “{course}”")),
        ((), N_("Attended a session")),
    ),
    "course_completion": (
        (("course",), N_("Completed the course “{course}”")),
        ((), N_("Completed a course")),
    ),
    "activity_completion": (
        (("item", "course"), N_("Completed “{item}” in the course “{course}”")),
        (("item",), N_("Completed “{item}”")),
        (("course",), N_("Completed an activity of the course “{course}”")),
        ((), N_("Completed an activity")),
    ),
    "grade": (
        (("item", "course"), N_("Grade {value} in “{item}” (course “{course}”)")),
        (("item",), N_("Grade {value} in “{item}”")),
        (("course",), N_("Grade {value} in the course “{course}”")),
        ((), N_("Grade {value}")),
    ),
    "certificate": (
        (("course",), N_("Earned the certificate of the course “{course}”")),
        ((), N_("Earned a course certificate")),
    ),
    "enrolment": (
        (("course",), N_("Enrolled in the course “{course}”")),
        ((), N_("Enrolled in a course")),
    ),
    "badge": (
        (("item",), N_("Holds the badge “{item}”")),
        ((), N_("Holds another badge of this issuer")),
    ),
}
_OTHER = N_("Recorded activity")


def _name(value: Any, lang: str) -> str:
    """A name attribute: a string, or (a held badge's) a name per language."""
    if isinstance(value, dict):
        return str(value.get(lang) or next(iter(value.values()), ""))
    return value if isinstance(value, str) else ""


def moment(fact: dict[str, Any]) -> datetime | None:
    """When the fact happened: its session's date, else its own moment."""
    for key in ("session_date", "occurred_at"):
        raw = fact.get(key)
        if isinstance(raw, str) and raw:
            try:
                return datetime.fromisoformat(raw)
            except ValueError:
                continue
    return None


def sentence(fact: dict[str, Any], lang: str) -> tuple[str, str]:
    """(what the fact is about, the whole sentence with its date) in the language in force;
    `lang` picks a held badge's name."""
    names = {"course": _name(fact.get("course_name"), lang), "item": _name(fact.get("item_name"), lang),
             "title": _name(fact.get("title"), lang), "place": _name(fact.get("place"), lang)}
    if fact.get("kind") == "presence" and not names["title"]:
        names["title"] = names["item"]  # a platform's session has a name, not a title
    value = fact.get("value")
    choices = _SENTENCES.get(str(fact.get("kind", "")), (((), _OTHER),))
    text = next(t for needs, t in choices if all(names[n] for n in needs))
    about = gettext(text).format(value=format_percent(value) if isinstance(value, float) else "",
                                 **names)
    when = moment(fact)
    return about, f"{about} — {format_date(when)}" if when else about
