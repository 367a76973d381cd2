"""Shared request/response types and the PHP bracket-array parser.
Dialect modules turn a Request into a Response; server.py does the wire work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

_BRACKETS = re.compile(r"\[([^\]]*)\]")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int = 200
    payload: Any = None
    raw: bytes | None = None  # already-encoded body (XML, HTML); payload ignored
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    offset_paged: bool = False  # rows come from limitfrom/limitnumber: never duplicate
    dup_next: str | None = None  # a `next` link that replays this page (duplicated page)
    rows_key: str | None = None  # where the rows live, for reorder/duplicate faults


def parse_form(data: str) -> list[tuple[str, str]]:
    return parse_qsl(data, keep_blank_values=True)


def php_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`options[0][name]=x` -> {"options": {"0": {"name": "x"}}} (PHP $_REQUEST rules)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (_BRACKETS.findall("[" + rest) if rest else [])
        node = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `values[]=x` appends
                part = str(len(node))
            if last:
                node[part] = value
            else:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = node[part] = {}
                node = nxt
    return out
