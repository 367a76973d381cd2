"""Course-wide Moodle reads that cost a constant per course: grades and attendance.

They become grade and presence facts, and a per-learner signature that says whose
completion may have changed even when `lastcourseaccess` did not (a teacher's action).
"""

from __future__ import annotations

import hashlib
import html
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ijson import ObjectBuilder  # type: ignore[import-untyped]
from pydantic import TypeAdapter, ValidationError

from bridge.errors import SourceError
from bridge.model import Fact, FactKind, OutOfRange, SessionInfo, utc
from connectors.http import PayloadError
from connectors.moodle.client import MoodleClient, RowError
from connectors.moodle.payloads import AttendanceSession, Section, _Log, _SessionUser

__all__ = ["CourseSignals", "read_signals", "attendance_instances", "session_attrs",
           "course_sessions"]

# The last second a datetime holds (9999-12-31T23:59:59Z): a later timestamp is a corrupt value.
MAX_TIMESTAMP = 253_402_300_799
# A session recorded without a duration (mod_attendance allows 0) is taken to last this long.
DEFAULT_DURATION = timedelta(hours=2)

_PLACE = re.compile(r"(?:lieu|place|location|salle)\s*:\s*([^\n]+)", re.IGNORECASE)
_TAG = re.compile(r"(?<![\w&])#([\w-]+)")


Grades = list[tuple[str, float, int | None]]  # (item, value in 0..1, date graded)


@dataclass
class CourseSignals:
    """A digest of each user's grade and presence facts (no entry: no signal), and, for the
    users whose digest the caller kept (`keep` of read_signals), what their facts are made of,
    packed: a course's grade report is summed up as it arrives, and its facts are made only
    when a batch takes them (`facts_of`). `users`: every learner the grade report and the
    sessions list, whatever their facts."""

    source: str = ""
    course: str = ""
    users: set[int] = field(default_factory=set)
    digests: dict[int, str] = field(default_factory=dict)
    grades: dict[int, str] = field(default_factory=dict)  # kept users' grades, packed
    kept: set[int] = field(default_factory=set)
    presences: dict[int, str] = field(default_factory=dict)  # (session, acronym)s, packed
    sessions: dict[int, tuple[int, dict[str, str | list[str]]]] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    refused: list[SourceError] = field(default_factory=list)  # records left out, each alone

    def digest(self, userid: int) -> str:
        return self.digests.get(userid, "")

    @property
    def facts(self) -> dict[int, list[Fact]]:
        """Every kept user's facts, made now (for a look at the whole; a pull uses facts_of)."""
        return {userid: self.facts_of(userid) for userid in sorted(self.kept)}

    def facts_of(self, userid: int) -> list[Fact]:
        """A kept user's grade and presence facts (none for a user not kept)."""
        if userid not in self.kept:
            return []
        ext = str(userid)
        out = [Fact(source=self.source, external_id=ext, kind=FactKind.grade, course=self.course,
                    item=item, value=value, status="graded", occurred_at=utc(date))
               for item, value, date in _unpack(self.grades.get(userid, ""))]
        for session, acronym in _marks(self.presences.get(userid, "")):
            date, attrs = self.sessions[session]
            out.append(Fact(source=self.source, external_id=ext, kind=FactKind.presence,
                            course=self.course, item=str(session),
                            value=1.0 if acronym in self.present else 0.0, status=acronym,
                            occurred_at=utc(date), attrs=dict(attrs)))
        return out

    def lines(self, userid: int) -> list[str]:
        """The digest's lines of a user's presences."""
        return [f"presence|{session}|{1.0 if acronym in self.present else 0.0}|{acronym}"
                for session, acronym in _marks(self.presences.get(userid, ""))]


def _marks(packed: str) -> list[tuple[int, str]]:
    return [(int(session), acronym) for session, acronym in
            (row.split("\x1f", 1) for row in packed.split("\x1e"))] if packed else []


def _pack(grades: Grades) -> str:
    return "\x1e".join(f"{item}\x1f{value!r}\x1f{'' if date is None else date}"
                       for item, value, date in grades)


def _unpack(packed: str) -> Grades:
    out: Grades = []
    for row in packed.split("\x1e") if packed else ():
        item, value, date = row.split("\x1f")
        out.append((item, float(value), int(date) if date else None))
    return out


def _digest(lines: list[str]) -> str:
    """Of a user's signal facts, as `kind|item|value|status` lines."""
    return hashlib.sha1("\n".join(sorted(lines)).encode()).hexdigest()[:12] if lines else ""


def _text(description: str) -> str:
    text = re.sub(r"<\s*(br|/p|/div|/li)\s*/?>", "\n", description, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def session_attrs(session: AttendanceSession, tags: list[str]) -> dict[str, str | list[str]]:
    """What a rule may filter on: `session_date` (ISO), `place`, `tags`, `title`."""
    text = _text(session.description)
    place = _PLACE.search(text)
    title = _PLACE.sub("", text).strip().splitlines()
    start = utc(session.sessdate)
    return {"session_date": start.isoformat() if start else "",
            "place": place.group(1).strip() if place else "",
            "tags": sorted({*tags, *(t.lower() for t in _TAG.findall(text))}),
            "title": title[0].strip() if title else ""}


def attendance_instances(client: MoodleClient, course: str) -> list[int]:
    """Ids of the mod_attendance instances the token user can see in a course (one call)."""
    sections = client.call("core_course_get_contents", list[Section], courseid=course,
                           options=[{"name": "modname", "value": "attendance"},
                                    {"name": "excludecontents", "value": 1}])
    return [m.instance for s in sections for m in s.modules if m.modname == "attendance"]


def read_signals(client: MoodleClient, source: str, course: str, *, grades: bool,
                 attendance: list[int], present: set[str], tags: list[str],
                 keep: Callable[[int, str], bool] | None = None) -> CourseSignals:
    """One sessions call per attendance instance, then the course's grade report, streamed.
    `keep(userid, digest)` says whose facts to hold (None: everyone's); the others are only
    digested, so that a course's signals cost memory in proportion to what changed."""
    out = CourseSignals(source, course, present=frozenset(present))
    presences = out.presences

    def session(s: AttendanceSession, logs: array[int]) -> None:
        """A session's header, and its log as (student id, status id) pairs."""
        acronyms = {st.id: st.acronym for st in s.statuses}
        if logs:
            try:
                out.sessions[s.id] = (s.sessdate, session_attrs(s, tags))
            except OutOfRange as exc:  # this session alone
                out.refused.append(SourceError(f"session {s.id}: {exc}", source=source,
                                               endpoint="mod_attendance_get_sessions",
                                               field="sessdate", code="out_of_range"))
                return
        for i in range(0, len(logs), 2):
            studentid, acronym = logs[i], acronyms.get(logs[i + 1])
            if acronym is None:
                raise SourceError(f"session {s.id}: status {logs[i + 1]} is not among its statuses",
                                  source=source, endpoint="mod_attendance_get_sessions",
                                  field="attendance_log.statusid")
            mark = f"{s.id}\x1f{acronym}"
            known = presences.get(studentid)
            if known is None:
                presences[studentid] = mark
            elif mark not in known.split("\x1e"):
                presences[studentid] = f"{known}\x1e{mark}"

    def start_sessions() -> Callable[[Iterator[tuple[str, str, Any]]], None]:
        # a retried list is read again: the same sessions, added again alike
        return lambda events: _sessions(events, source, out.users, session)

    for instance in attendance:  # sessions list every enrolled user: streamed, a user at a time
        client.events("mod_attendance_get_sessions", start_sessions, attendanceid=instance)

    def settle(userid: int, grades: Grades) -> None:
        lines = [f"grade|{item}|{value}|graded" for item, value, _ in grades] + out.lines(userid)
        digest = _digest(lines)
        if digest:
            out.digests[userid] = digest
        if lines and (keep is None or keep(userid, digest)):
            out.kept.add(userid)
            if grades:
                out.grades[userid] = _pack(grades)

    def _out_of_range(userid: int, grade: tuple[str, float, int | None]) -> bool:
        item, _, date = grade
        if date is None or date <= MAX_TIMESTAMP:
            return False
        out.refused.append(SourceError(  # this grade alone
            f"learner {userid}, grade item {item or 'course'}: timestamp {date!r} is out of range",
            source=source, endpoint=GRADES, field="usergrades.gradeitems.gradedategraded",
            code="out_of_range"))
        return True

    graded: set[int] = set()
    if grades:
        def start() -> Callable[[tuple[int, Grades]], None]:
            graded.clear()  # a retried report is read afresh
            out.digests.clear()
            out.grades.clear()
            out.kept.clear()
            out.refused[:] = [r for r in out.refused if r.endpoint != GRADES]
            return learner

        def learner(row: tuple[int, Grades]) -> None:
            userid, items = row
            if any(date is not None and date > MAX_TIMESTAMP for _, _, date in items):
                items = [g for g in items if not _out_of_range(userid, g)]
            if userid not in graded:  # a learner listed twice has the same grades twice
                graded.add(userid)
                settle(userid, items)

        client.each(GRADES, "usergrades", grade_row, start,
                    courseid=course, userid=0)
        out.users |= graded
    for userid in presences:  # present at a session, in no grade report row
        if userid not in graded:
            out.users.add(userid)
            settle(userid, [])
    for userid in [u for u in presences if u not in out.kept]:
        del presences[userid]  # their presences are stored as they are
    return out


_SESSIONS = "mod_attendance_get_sessions"
_PARTS: dict[str, TypeAdapter[Any]] = {"users": TypeAdapter(_SessionUser),
                                     "attendance_log": TypeAdapter(_Log)}


def _sessions(events: Iterator[tuple[str, str, Any]], source: str, users: set[int],
              session: Callable[[AttendanceSession, array[int]], None]) -> None:
    """The sessions list as it arrives, each session's `users` and `attendance_log` an entry at
    a time (a session lists every enrolled user: 100,000 at 100,000 learners): the users' ids
    go to `users`, the log is kept as (student id, status id) pairs, and the rest of the
    session is checked by `AttendanceSession` as the whole payload was; a bad entry is a
    PayloadError naming it (`<session>.<list>.<entry>.<field>`)."""
    def bad(message: str, field: str) -> PayloadError:
        return PayloadError(message, source=source, endpoint=_SESSIONS, field=field)

    n = -1
    header: ObjectBuilder | None = None
    part: ObjectBuilder | None = None
    part_of, entries = "", [0, 0]
    logs: array[int] = array("q")
    for prefix, event, value in events:
        if prefix == "item":
            if event == "start_map":
                n, header, logs, entries = n + 1, ObjectBuilder(), array("q"), [0, 0]
            elif header is None:
                raise bad("expected an object", str(n + 1))
            if event == "map_key" and value in _PARTS:
                part_of = value
                continue
            header.event(event, value)
            if event == "end_map":
                try:
                    s = AttendanceSession.model_validate(header.value)
                except ValidationError as exc:
                    err = exc.errors(include_url=False, include_input=False)[0]
                    raise bad(err["msg"], ".".join([str(n), *map(str, err["loc"])])) from None
                session(s, logs)
                header = None
        elif part_of and prefix.startswith(f"item.{part_of}"):
            here = f"item.{part_of}.item"
            if prefix == f"item.{part_of}":
                if event not in ("start_array", "end_array"):
                    raise bad("expected a list", f"{n}.{part_of}")
                if event == "end_array":
                    part_of = ""
                continue
            if prefix == here and event in ("start_map", "start_array") or part is None:
                part = ObjectBuilder()
            part.event(event, value)
            if prefix == here and event not in ("start_map", "start_array", "map_key"):
                index = entries[part_of == "attendance_log"]
                entries[part_of == "attendance_log"] += 1
                try:
                    entry = _PARTS[part_of].validate_python(part.value)
                except ValidationError as exc:
                    err = exc.errors(include_url=False, include_input=False)[0]
                    raise bad(err["msg"], ".".join([str(n), part_of, str(index),
                                                    *map(str, err["loc"])])) from None
                part = None
                if isinstance(entry, _Log):
                    logs.append(entry.studentid)
                    logs.append(entry.statusid)
                else:
                    users.add(entry.id)
        elif header is not None:
            header.event(event, value)
        elif prefix == "" and event not in ("start_array", "end_array"):
            raise bad("expected a list", "(body)")


_NUMBER = (int, float)
GRADES = "gradereport_user_get_grade_items"


def grade_row(row: Any) -> tuple[int, Grades]:
    """A row of the grade report (the fields `UserGrades` declares, checked the same way) as
    (userid, [(item, value in 0..1, date graded)]): the course total (item "") and the
    activities' graded items. Written out rather than validated by the model: a 10k-learner
    report is 10k rows of ~30 fields each, and this is the no-change sync's hottest loop."""
    if not isinstance(row, dict):
        raise RowError("expected an object", "")
    userid, items = row.get("userid"), row.get("gradeitems")
    if type(userid) is not int:
        raise RowError("expected an integer", "userid")
    if not isinstance(items, list):
        raise RowError("expected a list", "gradeitems")
    out: Grades = []
    for n, g in enumerate(items):
        if not isinstance(g, dict):
            raise RowError("expected an object", f"gradeitems.{n}")
        kind, cmid, raw = g.get("itemtype"), g.get("cmid"), g.get("graderaw")
        low, high, date = g.get("grademin", 0.0), g.get("grademax", 0.0), g.get("gradedategraded")
        for name, value, ok in (("itemtype", kind, isinstance(kind, str)),
                                ("cmid", cmid, cmid is None or type(cmid) is int),
                                ("graderaw", raw, raw is None or type(raw) in _NUMBER),
                                ("grademin", low, type(low) in _NUMBER),
                                ("grademax", high, type(high) in _NUMBER),
                                ("gradedategraded", date, date is None or type(date) is int)):
            if not ok:
                raise RowError(f"unexpected value {value!r}", f"gradeitems.{n}.{name}")
        if raw is None or high <= low or kind not in ("course", "mod"):
            continue
        out.append(("" if kind == "course" else str(cmid or ""),
                    round((raw - low) / (high - low), 6), date))
    return userid, out


def course_sessions(client: MoodleClient, source: str, course: str) -> list[SessionInfo]:
    """The attendance sessions of a course (one contents call, one sessions call per attendance
    instance), as meetups take them in: title and place from the description as
    `session_attrs` reads them, the status pushed back to the session itself.

    `sessdate` and `duration` are seconds, the description the teacher's HTML (the payload
    recorded on Moodle 4.5.6 with mod_attendance 2024020500); a duration of 0 is allowed there."""
    out = []
    for instance in attendance_instances(client, course):
        for s in client.call("mod_attendance_get_sessions", list[AttendanceSession], attendanceid=instance):
            attrs = session_attrs(s, [])
            start = datetime.fromtimestamp(s.sessdate, UTC)
            tags = attrs["tags"]
            out.append(SessionInfo(
                source=source, course=course, id=str(s.id), title=str(attrs["title"]),
                place=str(attrs["place"]), start=start,
                end=start + (timedelta(seconds=s.duration) if s.duration > 0 else DEFAULT_DURATION),
                tags=list(tags) if isinstance(tags, list) else [], target=f"attendance:{s.id}"))
    return out
