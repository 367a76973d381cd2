"""Every text a person reads, in their language: gettext catalogs, the language in force, and
Babel's dates, numbers and lists in that language.

The code is written in English (the msgids); `bridge/locale/<lang>/LC_MESSAGES/messages.po`
gives the texts of one language, and a catalog of the same shape under $BADGE_BRIDGE_LOCALE_DIR
adds a language or rewords one (docs/translating.md). The language in force is a context
variable: `with language("fr"): …` around a page, an email or a command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache, lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError, dates, lists, numbers
from babel.core import get_global, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations

from bridge.errors import ConfigError

__all__ = [
    "SOURCE", "DOMAIN", "LOCALE_DIR", "ENV_DIR", "languages", "translations", "language", "current",
    "gettext", "ngettext", "pgettext", "npgettext", "N_", "negotiate", "accept_language",
    "format_date", "format_datetime", "format_time", "format_decimal", "format_percent", "format_list",
    "display_name", "territory_locale",
]

SOURCE = "en"  # the language the msgids are written in: it needs no catalog
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).with_name("locale")
ENV_DIR = "BADGE_BRIDGE_LOCALE_DIR"

_current: ContextVar[str] = ContextVar("badge_bridge_language", default=SOURCE)


def _roots() -> tuple[Path, ...]:
    """Where catalogs are looked for, the first winning: the administrator's, then the built-in."""
    extra = os.environ.get(ENV_DIR)
    return (Path(extra), LOCALE_DIR) if extra else (LOCALE_DIR,)


def _catalog_file(root: Path, lang: str) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """The languages texts can be shown in: the source language and every catalog's."""
    return _languages(_roots())


@cache
def _languages(roots: tuple[Path, ...]) -> tuple[str, ...]:
    found = {SOURCE}
    for root in roots:
        for po in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
            lang = po.parent.parent.name
            try:
                Locale.parse(lang)
            except (ValueError, UnknownLocaleError):
                raise ConfigError(f"{lang!r} is not a language Babel knows; name the folder with "
                                  f"a language code such as de or pt_BR", file=str(po)) from None
            found.add(lang)
    return tuple(sorted(found))


def translations(lang: str) -> NullTranslations:
    """The texts of `lang`: the administrator's catalog over the built-in one over the msgids."""
    return _translations(lang, _roots())


@cache
def _translations(lang: str, roots: tuple[Path, ...]) -> NullTranslations:
    result = NullTranslations()
    for root in reversed(roots):
        po = _catalog_file(root, lang)
        if po.is_file():
            loaded = _compile(po, lang)
            loaded.add_fallback(result)
            result = loaded
    return result


def _compile(po: Path, lang: str) -> Translations:
    """A .po compiled in memory: what is read is always what is committed, never a stale .mo.
    Fuzzy and empty entries are left out (their msgid shows), as msgfmt does."""
    try:
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang, domain=DOMAIN, abort_invalid=True)
    except PoFileError as exc:
        raise ConfigError(f"invalid catalog: {exc}", file=str(po),
                          line=getattr(exc, "lineno", None)) from None
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@contextmanager
def language(lang: str) -> Iterator[str]:
    """Texts and formats in `lang` inside the block (a page, an email, a command)."""
    token = _current.set(lang)
    try:
        yield lang
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the name extraction tools know
    """Marks a text for the catalogs where it is written; `gettext` translates it where shown."""
    return message


def negotiate(preferred: Iterable[str | None], default: str) -> str:
    """The first of `preferred` a catalog answers (fr, fr-FR and fr_CA all get fr), else
    `default`. Tags come from Accept-Language, a platform's profile or the config."""
    tags = [tag.replace("-", "_") for tag in preferred if tag and tag != "*"]
    available = languages()
    found = negotiate_locale(tags, available, sep="_")
    if found is None:
        return default
    return next(lang for lang in available if lang.lower() == found.lower())


_QUALITY = re.compile(r"^q=([01](?:\.\d{0,3})?)$")


def accept_language(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (RFC 9110 §12.5.4); q=0 means
    "not this one". Babel negotiates but does not read the header, hence these few lines."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, *params = (bit.strip() for bit in part.split(";"))
        quality = 1.0
        for param in params:
            match = _QUALITY.match(param.replace(" ", ""))
            quality = float(match.group(1)) if match else 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _locale() -> Locale:
    return _babel_locale(_current.get())


@cache
def _babel_locale(lang: str) -> Locale:
    return Locale.parse(lang)


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """« 29 nov. 2026 », "Nov 29, 2026"; empty for no date."""
    if not value:
        return ""
    return _format_day(value.date() if isinstance(value, datetime) else value, format, _current.get())


@lru_cache(maxsize=4096)
def _format_day(day: date, format: str, lang: str) -> str:
    """A few hundred distinct days a run: each formatted once per language."""
    return dates.format_date(day, format, locale=_babel_locale(lang))


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    return dates.format_datetime(value, format, locale=_locale()) if value else ""


def format_time(value: datetime | None, format: str = "short") -> str:
    """« 14:30 », "2:30 PM", in the value's own time zone; empty for no time."""
    return dates.format_time(value, format, locale=_locale()) if value else ""


def format_decimal(value: float | int) -> str:
    return numbers.format_decimal(value, locale=_locale())


def format_percent(ratio: float) -> str:
    """A ratio as a percentage to one decimal at most: « 70 % », « 72,5 % », "70%"."""
    return numbers.format_percent(round(ratio, 3), locale=_locale(), decimal_quantization=False)


def format_list(items: Sequence[str], style: Literal["standard", "or"] = "standard") -> str:
    """« a, b et c »; style "or" gives « a, b ou c »."""
    return lists.format_list(list(items), style, locale=_locale())


def display_name(lang: str) -> str:
    """A language's name in that language, capitalised as a menu entry: Français, English."""
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


def territory_locale(lang: str) -> str:
    """The language with its likeliest territory (fr → fr_FR), as Open Graph wants it."""
    parsed = Locale.parse(lang)
    if not parsed.territory:
        likely = get_global("likely_subtags").get(parsed.language)
        parsed = Locale(parsed.language, Locale.parse(likely).territory) if likely else parsed
    return str(parsed)
