"""Jinja2 environments for emails and pages; an administrator's folder overrides the built-ins.

Autoescaping is on for HTML, off for text and subjects. Texts go through the catalogs
(`{% trans %}`, `_()`) and dates and numbers through Babel, in the language of `render`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

from bridge import i18n

__all__ = ["environment", "render"]


@cache
def environment(override_dir: Path | None = None) -> Environment:
    loaders: list[BaseLoader] = [FileSystemLoader(str(override_dir))] if override_dir else []
    loaders.append(PackageLoader("bridge", "templates"))
    env = Environment(loader=ChoiceLoader(loaders), extensions=["jinja2.ext.i18n"],
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
                      undefined=StrictUndefined, keep_trailing_newline=True)
    # One catalog entry per sentence, however the template breaks its lines (babel.cfg agrees).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext)
    env.filters.update(date=i18n.format_date, time=i18n.format_time, percent=i18n.format_percent,
                       datetime=i18n.format_datetime)
    return env


def render(template: str, lang: str, override_dir: Path | None = None, **context: Any) -> str:
    """`template` rendered with its texts and formats in `lang`."""
    with i18n.language(lang):
        return environment(override_dir).get_template(template).render(lang=lang, **context)
