"""What a batch may hold before it is written: text the database and an email header take.

Platforms send what their users typed: names with line breaks or NUL bytes, addresses that are
not one address, identifiers longer than a column. Each is dealt with here, where it enters,
record by record: descriptive text (a name, a status) is cleaned — control characters become
spaces, an over-long value is cut at the column's width; an address that does not parse is
dropped from the identity (which stays, unable to receive badges) and reported; an identifier
that cannot be stored as sent refuses its record alone, reported with source, field and the
learner's reference on the source (never their address or name). Everything else proceeds.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from bridge.addresses import email_address
from bridge.errors import InvalidAddress, SourceError
from bridge.model import AttrValue, Batch, Fact, Identity, Watermark

__all__ = ["clean_batch", "clean_text", "learner_ref", "LIMITS"]

# Column widths of bridge/store/schema.py.
LIMITS = {"source": 100, "external_id": 200, "username": 200, "fullname": 300, "lang": 8,
          "course": 200, "item": 200, "status": 100, "stream": 200}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_KEY_BAD = re.compile(r"[\x00-\x1f\x7f]")
_MAX_ATTR = 2000  # characters of one attribute's text (a title, a place, a course's name)


def clean_text(text: str, limit: int | None = None) -> str:
    """One line of text: control characters (line breaks, NUL…) as spaces, runs of spaces as one,
    cut at `limit` characters."""
    if not (text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "):
        # (printable text holds no control character and no space but U+0020: a single-spaced,
        # trimmed one is already its cleaned form, which the C-level checks above tell at once)
        text = " ".join(_CONTROL.sub(" ", text).split())
    return text[:limit] if limit else text


class Refused(SourceError):
    """One record of a batch that cannot be stored as the source sent it."""

    retryable = False


def _refuse(source: str, field: str, ref: str, what: str) -> Refused:
    return Refused(f"learner {ref[:60]!r}: {what}; the record was left out", source=source[:100],
                   endpoint="ingest", field=field, code="refused_record")


def _key_problem(name: str, value: str) -> str | None:
    if value.isprintable() and len(value) <= LIMITS[name]:  # no control character: the usual case
        return None
    if _KEY_BAD.search(value):
        return f"{name} holds control characters"
    if len(value) > LIMITS[name]:
        return f"{name} is longer than {LIMITS[name]} characters"
    return None


def _identity(ident: Identity, refusals: list[SourceError]) -> Identity | None:
    for name in ("source", "external_id"):
        problem = _key_problem(name, getattr(ident, name))
        if problem:
            refusals.append(_refuse(ident.source, name, learner_ref(ident.external_id), problem))
            return None
    email = ident.email
    if email is not None:
        try:
            email = email_address(email)
        except InvalidAddress as exc:
            refusals.append(Refused(
                f"learner {learner_ref(ident.external_id)!r}: the address is not one email address "
                f"({_reason(exc.reason)}); kept without it, they cannot receive badges",
                source=ident.source[:100], endpoint="ingest", field="email", code="invalid_address"))
            email = None
    lang = clean_text(ident.lang) if ident.lang else None
    fresh = Identity(
        source=ident.source, external_id=ident.external_id,
        username=clean_text(ident.username, LIMITS["username"]) or None if ident.username else None,
        email=email,
        fullname=clean_text(ident.fullname, LIMITS["fullname"]) or None if ident.fullname else None,
        lang=lang if lang and len(lang) <= LIMITS["lang"] else None)
    return ident if fresh == ident else fresh


def learner_ref(external_id: str) -> str:
    """A learner's reference on the source as it may be shown: an address is not shown."""
    return "<email>" if "@" in external_id else clean_text(external_id, 60)


def _reason(reason: str) -> str:
    """email-validator's reason without the address it may quote."""
    return clean_text(reason.split(":")[0], 120)


def _attr(value: Any) -> AttrValue | None:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value, _MAX_ATTR)
    if isinstance(value, list):
        return [clean_text(str(v), _MAX_ATTR) for v in value[:200]]
    return None


def _as_is(text: str, limit: int) -> bool:
    """Whether clean_text(text, limit) is `text` itself (see clean_text)."""
    return (text.isprintable() and len(text) <= limit and "  " not in text
            and text[:1] != " " and text[-1:] != " ")


def _fact(fact: Fact, refusals: list[SourceError]) -> Fact | None:
    source, external_id, course, item = fact.source, fact.external_id, fact.course, fact.item
    if not (source.isprintable() and external_id.isprintable() and course.isprintable()
            and item.isprintable() and len(source) <= 100 and len(external_id) <= 200
            and len(course) <= 200 and len(item) <= 200):  # else one of them is refused
        for name in ("source", "external_id", "course", "item"):
            problem = _key_problem(name, getattr(fact, name))
            if problem:
                refusals.append(_refuse(fact.source, name, learner_ref(fact.external_id), problem))
                return None
    if fact.value is not None and not math.isfinite(fact.value):
        refusals.append(_refuse(fact.source, "value", learner_ref(fact.external_id),
                                f"value {fact.value} is not a number"))
        return None
    status = fact.status
    if _as_is(status, LIMITS["status"]) and all(
            type(k) is str and type(v) is str and _as_is(k, 100) and _as_is(v, _MAX_ATTR)
            for k, v in fact.attrs.items()):
        return fact  # text only, already clean: the usual case, said without copying
    attrs = {clean_text(str(k), 100): v for k, raw in fact.attrs.items() if (v := _attr(raw)) is not None}
    status = clean_text(fact.status, LIMITS["status"])
    if attrs == fact.attrs and status == fact.status:
        return fact
    return replace(fact, attrs=attrs, status=status)


def _watermark(mark: Watermark, refusals: list[SourceError]) -> Watermark | None:
    for name in ("source", "course", "stream"):
        problem = _key_problem(name, getattr(mark, name))
        if problem:
            refusals.append(Refused(f"watermark: {problem}", source=mark.source[:100],
                                    endpoint="ingest", field=name, code="refused_record"))
            return None
    value = mark.value.replace("\x00", "")
    return mark if value == mark.value else replace(mark, value=value)


def clean_batch(batch: Batch) -> tuple[Batch, list[SourceError]]:
    """The batch as it can be stored, and the refusals (one per record left out or changed
    in a way the administrator should know)."""
    refusals: list[SourceError] = []
    identities, dropped = [], set()
    for ident in batch.identities:
        kept = _identity(ident, refusals)
        if kept is None:
            dropped.add((ident.source, ident.external_id))  # its facts go with it, said once
        else:
            identities.append(kept)
    facts = [f for f in (_fact(f, refusals) for f in batch.facts
                         if (f.source, f.external_id) not in dropped) if f is not None]
    marks = [w for w in (_watermark(w, refusals) for w in batch.watermarks) if w is not None]
    if not refusals and len(identities) == len(batch.identities) and all(
            a is b for a, b in zip(identities, batch.identities, strict=True)) and all(
            a is b for a, b in zip(facts, batch.facts, strict=True)) and all(
            a is b for a, b in zip(marks, batch.watermarks, strict=True)) \
            and len(facts) == len(batch.facts) and len(marks) == len(batch.watermarks):
        return batch, []
    return Batch(identities=identities, facts=facts, watermarks=marks), refusals
