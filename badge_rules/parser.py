"""Reads one badge rules file into a BadgeDef, collecting every problem with its line.

Cross-file checks (duplicate ids, unknown or cyclic badge_held) belong to `ruleset.py`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import TomlError
from bridge.i18n import format_list, format_percent, ngettext
from bridge.i18n import gettext as _
from bridge.tomlloc import Locator, loads_toml

from .badge import LANGS, Alignment, BadgeDef, Duration
from .explain import describe
from .nodes import (
    COMPARISONS,
    ActivityCompleted,
    All,
    AnyOf,
    AtLeast,
    BadgeHeld,
    CertificateEarned,
    CourseCompleted,
    Enrolled,
    FactBetween,
    Grade,
    Node,
    Not,
    Presence,
    Window,
)
from .values import read_duration, read_moment, read_texts, shown

__all__ = ["Problem", "ParsedFile", "parse_file", "read_toml", "TomlFile", "dotted", "NODE_KEYS"]

Problem = tuple[str, int | None, str]
Path_ = tuple[str | int, ...]

NODE_KEYS = ("all", "any", "not", "at_least", "course_completed", "grade",
             "activity_completed", "certificate_earned", "enrolled", "presence",
             "badge_held", "fact_between")
_BADGE_KEYS = ("id", "name", "description", "criteria", "image", "tags", "expires_after",
               "renewable", "alignment")
_ALIGNMENT_KEYS = ("name", "url", "code", "framework", "description")
_BADGE_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_IMAGE_TYPES = (".png", ".svg")


@dataclass
class ParsedFile:
    """What one file yields: the badge if it is valid, and where its badge_held refs are."""

    file: str
    badge: BadgeDef | None = None
    id_line: int | None = None
    refs: list[tuple[str, int | None, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class TomlFile:
    data: dict[str, Any]
    locator: Locator
    text: str


def read_toml(path: Path) -> TomlFile | Problem:
    """The document, its locator and its text; or the problem that stops reading it."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (str(path), raw[:exc.start].count(b"\n") + 1, _("expected UTF-8 text"))
    try:
        data, locator = loads_toml(text, str(path))
    except TomlError as exc:
        return (str(path), exc.line, exc.detail)
    return TomlFile(data, locator, text)


def parse_file(path: Path, sources: Mapping[str, set[str] | None] | None) -> ParsedFile:
    parsed = ParsedFile(str(path))
    read = read_toml(path)
    if isinstance(read, TomlFile):
        _Reader(path, read.locator, sources, parsed).badge_file(
            read.data, hashlib.sha256(read.text.encode()).hexdigest()[:16])
    else:
        parsed.problems.append(read)
    return parsed


def dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                   for i, p in enumerate(path))


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return " (" + _("did you mean '{word}'?").format(word=close[0]) + ")" if close else ""


class _Reader:
    """Walks one file's data; each check records a problem and returns None, never raises."""

    def __init__(self, path: Path, locator: Locator,
                 sources: Mapping[str, set[str] | None] | None, out: ParsedFile) -> None:
        self.path, self.locator, self.sources, self.out = path, locator, sources, out

    def fail(self, path: Path_, message: str) -> None:
        prefix = f"{dotted(path)}: " if path else ""
        # A problem of the whole file (no [badge] table) is placed at its first line.
        self.out.problems.append((self.out.file, self.locator.line(path) or 1, prefix + message))

    # -- generic checks ------------------------------------------------------
    def table(self, value: Any, path: Path_, example: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.fail(path, _("expected a table such as {example}, got {value}").format(
            example=example, value=shown(value)))
        return None

    def keys(self, table: dict[str, Any], path: Path_, allowed: tuple[str, ...],
             required: tuple[str, ...] = ()) -> bool:
        ok = True
        for key in table:
            if key not in allowed:
                self.fail(path + (key,), _("unknown key '{key}'{hint}; expected one of: {allowed}")
                          .format(key=key, hint=_suggest(key, allowed), allowed=", ".join(allowed)))
                ok = False
        for key in required:
            if key not in table:
                self.fail(path, _("missing key '{key}'").format(key=key))
                ok = False
        return ok

    def ident(self, value: Any, path: Path_) -> str | None:
        # Course and activity ids are often numbers; `course = 42` means "42".
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.fail(path, _("expected an id such as {example}, got {value}").format(
            example='"42"', value=shown(value)))
        return None

    def count(self, value: Any, path: Path_) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        self.fail(path, _("expected a whole number of at least 1, got {value}").format(value=shown(value)))
        return None

    def words(self, value: Any, path: Path_) -> tuple[str, ...] | None:
        """One id or a list of ids."""
        if not isinstance(value, list):
            one = self.ident(value, path)
            return None if one is None else (one,)
        if not value:
            self.fail(path, _("expected at least one value"))
        ids = [self.ident(v, path + (i,)) for i, v in enumerate(value)]
        return None if not ids or None in ids else tuple(i for i in ids if i is not None)

    def convert(self, reader: Callable[[Any], Any], value: Any, path: Path_) -> Any:
        try:
            return reader(value)
        except ValueError as exc:
            self.fail(path, _("{expected}, got {value}").format(expected=exc, value=shown(value)))
            return None

    def window(self, table: dict[str, Any], path: Path_) -> Window | None:
        start = end = None
        if "from" in table:
            start = self.convert(read_moment, table["from"], path + ("from",))
        if "until" in table:
            end = self.convert(lambda v: read_moment(v, end=True), table["until"],
                               path + ("until",))
        if start is not None and end is not None and start >= end:
            self.fail(path + ("until",), _("expected a date after '{key}'").format(key="from"))
            return None
        return Window(start, end) if start or end else None

    # -- the file --------------------------------------------------------------
    def badge_file(self, data: dict[str, Any], version: str) -> None:
        self.keys(data, (), ("badge", "condition"))
        if "badge" not in data or "condition" not in data:
            missing = [k for k in ("badge", "condition") if k not in data]
            self.fail((), ngettext("missing {tables} table", "missing {tables} tables", len(missing))
                      .format(tables=format_list([f"[{k}]" for k in missing])))
            return
        condition = self.node(data["condition"], ("condition",))
        badge = self.table(data["badge"], ("badge",), '[badge] with id = "snt-mooc"')
        if badge is None:
            return
        self.out.id_line = self.locator.line(("badge", "id"))
        fields = self.badge_fields(badge)
        if condition is None or fields is None or self.out.problems:
            return
        criteria = fields.pop("criteria") or {lang: describe(condition, lang) for lang in LANGS}
        self.out.badge = BadgeDef(condition=condition, version=version, file=self.out.file,
                                  criteria=criteria, **fields)

    def badge_fields(self, badge: dict[str, Any]) -> dict[str, Any] | None:
        p: Path_ = ("badge",)
        self.keys(badge, p, _BADGE_KEYS, ("id", "name", "description"))
        badge_id = badge.get("id")
        if "id" in badge and not (isinstance(badge_id, str) and _BADGE_ID.fullmatch(badge_id)):
            self.fail(p + ("id",), _("expected an id of lower-case letters, digits, {signs} such as "
                                     "{example}, got {value}").format(
                signs=format_list(["'-'", "'_'"], "or"), example='"snt-mooc"', value=shown(badge_id)))
        texts = {key: self.convert(read_texts, badge[key], p + (key,)) if key in badge else None
                 for key in ("name", "description", "criteria")}
        expires: Duration | None = None
        if "expires_after" in badge:
            expires = self.convert(read_duration, badge["expires_after"], p + ("expires_after",))
        renewable = badge.get("renewable", False)
        if not isinstance(renewable, bool):
            self.fail(p + ("renewable",), _("expected true or false, got {value}").format(
                value=shown(renewable)))
        elif renewable and "expires_after" not in badge:
            self.fail(p + ("renewable",), _("a renewable badge needs {key} (when to renew)").format(
                key="expires_after"))
        tags = self.words(badge["tags"], p + ("tags",)) if "tags" in badge else ()
        return {"id": badge_id, **texts, "image": self.image(badge.get("image")),
                "tags": tags or (), "alignments": self.alignments(badge.get("alignment", [])),
                "expires_after": expires, "renewable": renewable is True}

    def image(self, value: Any) -> Path | None:
        if value is None:
            return None
        p: Path_ = ("badge", "image")
        if not isinstance(value, str) or Path(value).suffix.lower() not in _IMAGE_TYPES:
            self.fail(p, _("expected the path of a .png or .svg file, got {value}").format(
                value=shown(value)))
            return None
        image = (self.path.parent / value).resolve()
        if not image.is_file():
            self.fail(p, _("image file not found: {path} (relative to this rules file)").format(
                path=value))
        return image

    def alignments(self, value: Any) -> tuple[Alignment, ...]:
        p: Path_ = ("badge", "alignment")
        if not isinstance(value, list):
            self.fail(p, _("expected {tables} tables").format(tables="[[badge.alignment]]"))
            return ()
        found = []
        for i, item in enumerate(value):
            table = self.table(item, p + (i,), '{ name = "…", url = "https://…" }')
            if table is None or not self.keys(table, p + (i,), _ALIGNMENT_KEYS, ("name", "url")):
                continue
            bad = [k for k in _ALIGNMENT_KEYS if k in table and not isinstance(table[k], str)]
            for key in bad:
                self.fail(p + (i, key), _("expected text, got {value}").format(value=shown(table[key])))
            if not str(table["url"]).startswith(("https://", "http://")):
                self.fail(p + (i, "url"), _("expected a web address starting with {scheme}, got "
                                            "{value}").format(scheme="https://",
                                                              value=shown(table["url"])))
            elif not bad:
                found.append(Alignment(**table))
        return tuple(found)

    # -- conditions ------------------------------------------------------------
    def node(self, value: Any, path: Path_) -> Node | None:
        table = self.table(value, path, '{ course_completed = { source = "moodle", course = "42" } }')
        if table is None:
            return None
        if "of" in table or ("at_least" in table and len(table) > 1):
            return self.at_least(table, path)
        if len(table) != 1:
            self.fail(path, _("expected one condition ({conditions}), got {found}; put several "
                              "conditions in {example}").format(
                conditions=", ".join(NODE_KEYS), found=", ".join(table) or _("nothing"),
                example="all = [ … ]"))
            return None
        ((key, inner),) = table.items()
        p = path + (key,)
        if key in ("all", "any"):
            children = self.children(inner, p)
            if children is None:
                return None
            return All(children) if key == "all" else AnyOf(children)
        if key == "not":
            child = self.node(inner, p)
            return None if child is None else Not(child)
        if key == "at_least":
            self.fail(path, _("{key} needs '{of}', the list of conditions to count").format(
                key="at_least", of="of"))
            return None
        reader = _PREDICATE_READERS.get(key)
        if reader is None:
            self.fail(p, _("unknown condition '{key}'{hint}; expected one of: {allowed}").format(
                key=key, hint=_suggest(key, NODE_KEYS), allowed=", ".join(NODE_KEYS)))
            return None
        args = self.table(inner, p, f'{key} = {{ source = "moodle", course = "42" }}')
        return None if args is None else reader(self, args, p)

    def children(self, value: Any, path: Path_) -> tuple[Node, ...] | None:
        if not isinstance(value, list) or not value:
            self.fail(path, _("expected a list of conditions {example}, got {value}").format(
                example="[ { … }, { … } ]", value=shown(value)))
            return None
        nodes = [self.node(v, path + (i,)) for i, v in enumerate(value)]
        return None if None in nodes else tuple(n for n in nodes if n is not None)

    def at_least(self, table: dict[str, Any], path: Path_) -> Node | None:
        if not self.keys(table, path, ("at_least", "of"), ("at_least", "of")):
            return None
        count = self.count(table["at_least"], path + ("at_least",))
        children = self.children(table["of"], path + ("of",))
        if count is None or children is None:
            return None
        if count > len(children):
            self.fail(path + ("at_least",), ngettext(
                "{count} is more than the {total} condition in '{of}'",
                "{count} is more than the {total} conditions in '{of}'", len(children)).format(
                count=count, total=len(children), of="of"))
            return None
        return AtLeast(count, children)

    def where(self, args: dict[str, Any], path: Path_) -> tuple[str, str] | None:
        source = self.ident(args["source"], path + ("source",))
        course = self.ident(args["course"], path + ("course",))
        if source is None or course is None:
            return None
        if self.sources is not None:
            if source not in self.sources:
                self.fail(path + ("source",), _("unknown source '{source}'{hint}; configured "
                                                "sources: {known}").format(
                    source=source, hint=_suggest(source, sorted(self.sources)),
                    known=", ".join(sorted(self.sources)) or _("none")))
                return None
            known = self.sources[source]
            if known is not None and course not in known:
                listed = ", ".join(sorted(known)[:10]) + (", …" if len(known) > 10 else "")
                self.fail(path + ("course",), _("unknown course '{course}' on source '{source}'; "
                                                "known courses: {known}").format(
                    course=course, source=source, known=listed or _("none")))
                return None
        return source, course

    def simple(self, args: dict[str, Any], path: Path_) -> Node | None:
        if not self.keys(args, path, ("source", "course"), ("source", "course")):
            return None
        where = self.where(args, path)
        if where is None:
            return None
        return _SIMPLE[str(path[-1])](*where)

    def activity(self, args: dict[str, Any], path: Path_) -> Node | None:
        keys = ("source", "course", "activity")
        if not self.keys(args, path, keys, keys):
            return None
        where, activity = self.where(args, path), self.ident(args["activity"], path + ("activity",))
        return None if where is None or activity is None else ActivityCompleted(*where, activity)

    def grade(self, args: dict[str, Any], path: Path_) -> Node | None:
        ok = self.keys(args, path, ("source", "course", "activity", *COMPARISONS),
                       ("source", "course"))
        ops = [k for k in args if k in COMPARISONS]
        if len(ops) != 1:
            self.fail(path, _("expected exactly one comparison among {comparisons}, such as "
                              "{example}").format(comparisons=", ".join(COMPARISONS),
                                                  example='">=" = 0.7'))
            return None
        threshold = args[ops[0]]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
                0 <= threshold <= 1):
            self.fail(path + (ops[0],), _("expected a fraction between 0 and 1 (0.7 for {percent}), "
                                          "got {value}").format(percent=format_percent(0.7),
                                                                value=shown(threshold)))
            return None
        activity = self.ident(args["activity"], path + ("activity",)) if "activity" in args else ""
        where = self.where(args, path) if ok else None
        if where is None or activity is None:
            return None
        return Grade(*where, ops[0], float(threshold), activity)

    def presence(self, args: dict[str, Any], path: Path_) -> Node | None:
        allowed = ("source", "course", "at_least", "session", "tag", "place", "from", "until")
        if not self.keys(args, path, allowed, ("source", "course")):
            return None
        where = self.where(args, path)
        at_least = self.count(args.get("at_least", 1), path + ("at_least",))
        filters = {key: self.words(args[key], path + (key,)) if key in args else ()
                   for key in ("session", "tag", "place")}
        window = self.window(args, path)
        if where is None or at_least is None or None in filters.values() or (
                window is None and ("from" in args or "until" in args)):
            return None
        # Tags and places are matched regardless of case: "Meetup" is "meetup".
        return Presence(*where, at_least, filters["session"] or (),
                        tuple(t.casefold() for t in filters["tag"] or ()),
                        tuple(t.casefold() for t in filters["place"] or ()), window)

    def badge_held(self, args: dict[str, Any], path: Path_) -> Node | None:
        if not self.keys(args, path, ("badge", "badges", "at_least")):
            return None
        if ("badge" in args) == ("badges" in args):
            self.fail(path, _("expected either {one} or {many}").format(
                one='badge = "id"', many='badges = ["id", …]'))
            return None
        key = "badge" if "badge" in args else "badges"
        badges = self.words(args[key], path + (key,))
        at_least = self.count(args.get("at_least", 1), path + ("at_least",))
        if badges is None or at_least is None:
            return None
        if at_least > len(badges):
            self.fail(path + ("at_least",), ngettext(
                "{count} is more than the {total} badge listed",
                "{count} is more than the {total} badges listed", len(badges)).format(
                count=at_least, total=len(badges)))
            return None
        for i, badge in enumerate(badges):
            ref_path = path + (key, i) if isinstance(args[key], list) else path + (key,)
            self.out.refs.append((badge, self.locator.line(ref_path), dotted(ref_path)))
        return BadgeHeld(badges, at_least)

    def fact_between(self, args: dict[str, Any], path: Path_) -> Node | None:
        inner = {k: v for k, v in args.items() if k not in ("from", "until")}
        window = self.window(args, path)
        if window is None and "from" not in args and "until" not in args:
            self.fail(path, _("expected {start} and/or {end}").format(
                start="from = 2025-09-01", end="until = 2026-06-30"))
        child = self.node(inner, path)
        return None if window is None or child is None else FactBetween(window, child)


_SIMPLE: dict[str, type[CourseCompleted] | type[CertificateEarned] | type[Enrolled]] = {
    "course_completed": CourseCompleted,
    "certificate_earned": CertificateEarned,
    "enrolled": Enrolled,
}
_PREDICATE_READERS: dict[str, Callable[[_Reader, dict[str, Any], Path_], Node | None]] = {
    "course_completed": _Reader.simple,
    "certificate_earned": _Reader.simple,
    "enrolled": _Reader.simple,
    "activity_completed": _Reader.activity,
    "grade": _Reader.grade,
    "presence": _Reader.presence,
    "badge_held": _Reader.badge_held,
    "fact_between": _Reader.fact_between,
}
