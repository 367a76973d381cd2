"""Jinja2 environments for emails and pages; an administrator's folder overrides the built-ins.

Autoescaping is on for HTML, off for text and subjects.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

__all__ = ["environment"]


@cache
def environment(override_dir: Path | None = None) -> Environment:
    loaders: list[BaseLoader] = [FileSystemLoader(str(override_dir))] if override_dir else []
    loaders.append(PackageLoader("bridge", "templates"))
    return Environment(loader=ChoiceLoader(loaders),
                       autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
                       undefined=StrictUndefined, keep_trailing_newline=True)
