"""Line numbers for TOML keys, so errors can say `file:line` (tomllib gives none).

`load_toml(path)` returns the parsed document and a `Locator`; `Locator.line(path)` gives
the line of a key path such as ("sources", "moodle", "token") or ("condition", "all", 2).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bridge.errors import TomlError

__all__ = ["Locator", "load_toml", "loads_toml"]

PathT = tuple[str | int, ...]


class Locator:
    """Maps key paths to 1-based line numbers; falls back to the nearest known parent."""

    def __init__(self, text: str) -> None:
        self.lines: dict[PathT, int] = {}
        _Scanner(text, self.lines).run()

    def line(self, path: PathT | list[str | int]) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


# Arrays and inline tables nested deeper than this are refused before anything recurses over
# them (tomllib, the locator, the rules parser): no config or rule needs more than a few levels.
MAX_DEPTH = 32


def _too_deep(text: str) -> int | None:
    """The line where brackets first nest deeper than MAX_DEPTH, outside strings and comments
    (a cheap scan, so that a document tomllib would recurse on for ever is refused first)."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif c in "\"'":
            quote = text[i:i + 3] if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\\" and c == '"':
                    i += 1
                elif text[i] == "\n":
                    if len(quote) == 1:
                        break
                    line += 1
                i += 1
            i += len(quote)
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def loads_toml(text: str, file: str) -> tuple[dict[str, Any], Locator]:
    """Parse TOML text; a syntax error is a TomlError naming the file and line."""
    deep = _too_deep(text)
    if deep is not None:
        raise TomlError(f"nested more than {MAX_DEPTH} levels deep", file=file, line=deep)
    try:
        data = tomllib.loads(text)
    except RecursionError:  # only when the scan above misjudged: still one clean error
        raise TomlError(f"nested more than {MAX_DEPTH} levels deep", file=file, line=None) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"; keep it in our form.
        msg = str(exc)
        line = None
        if "(at line " in msg:
            head, _, tail = msg.rpartition(" (at line ")
            line = int(tail.split(",")[0])
            msg = head
        elif msg.endswith(" (at end of document)"):
            line, msg = text.count("\n") + (0 if text.endswith("\n") else 1), msg[:-len(" (at end of document)")]
        raise TomlError(f"invalid TOML: {msg}", file=file, line=line) from None
    return data, Locator(text)


def load_toml(path: str | Path) -> tuple[dict[str, Any], Locator]:
    path = Path(path)
    return loads_toml(path.read_text(encoding="utf-8"), str(path))


class _Scanner:
    """A position-only TOML reader: records where each key and array element starts."""

    def __init__(self, text: str, out: dict[PathT, int]) -> None:
        self.s, self.i, self.line, self.out = text, 0, 1, out
        self.aot_counts: dict[PathT, int] = {}

    # -- low-level helpers -------------------------------------------------
    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s) and self.s[self.i] == "\n":
                self.line += 1
            self.i += 1

    def skip_ws(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def read_string(self) -> str:
        q = self.peek()
        triple = self.s.startswith(q * 3, self.i)
        if triple:
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            end = len(self.s) if end < 0 else end
            while self.s.startswith(q, end + 3):
                end += 1
            raw = self.s[self.i:end]
            self.advance(end - self.i + 3)
            return raw
        self.advance()
        buf = []
        while self.i < len(self.s) and self.s[self.i] not in (q, "\n"):
            if q == '"' and self.s[self.i] == "\\":
                buf.append(self.s[self.i:self.i + 2])
                self.advance(2)
                continue
            buf.append(self.s[self.i])
            self.advance()
        self.advance()
        return "".join(buf)

    def read_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_ws(False)
            c = self.peek()
            if c in "\"'":
                parts.append(self.read_string())
            else:
                start = self.i
                while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "_-"):
                    self.i += 1
                parts.append(self.s[start:self.i])
            self.skip_ws(False)
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    # -- grammar -------------------------------------------------------------
    def run(self) -> None:
        table: PathT = ()
        while True:
            self.skip_ws(True)
            if self.i >= len(self.s):
                return
            if self.peek() == "[":
                aot = self.s.startswith("[[", self.i)
                self.advance(2 if aot else 1)
                key = tuple(self.read_key())
                self.advance(2 if aot else 1)
                if aot:
                    n = self.aot_counts.get(key, 0)
                    self.aot_counts[key] = n + 1
                    self.out.setdefault(key, self.line)
                    table = key + (n,)
                else:
                    table = key
                self.out.setdefault(table, self.line)
                continue
            start = self.i
            self.keyval(table)
            if self.i == start:  # unparseable junk: skip a line (tomllib reports it)
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1

    def keyval(self, table: PathT) -> None:
        line = self.line
        key = tuple(self.read_key())
        if not key or key == ("",):
            return
        path = table + key
        for n in range(1, len(key) + 1):
            self.out.setdefault(table + key[:n], line)
        self.skip_ws(False)
        if self.peek() == "=":
            self.advance()
        self.skip_ws(False)
        self.value(path)

    def value(self, path: PathT) -> None:
        c = self.peek()
        if c in "\"'":
            self.read_string()
        elif c == "[":
            self.advance()
            idx = 0
            while True:
                self.skip_ws(True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.out[path + (idx,)] = self.line
                self.value(path + (idx,))
                idx += 1
        elif c == "{":
            self.advance()
            while True:
                self.skip_ws(True)
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                before = self.i
                self.keyval(path)
                if self.i == before:
                    self.advance()
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}\n#":
                self.i += 1
