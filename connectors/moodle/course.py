"""One Moodle course's pull: the roster page by page, who to read, and the facts they become.

A learner is read (course and activity completion, 2 calls, in a pool of `parallel`) when seen
for the first time; when a push queued them for a re-read (connectors.base.REREAD); when their signal moved (`lastcourseaccess`, grades, attendance) and they
are not complete yet; when the completion report lists them as complete and the store does not;
when their last read missed a part Moodle refused, once it no longer refuses; and by the rolling
re-check, so that nobody who is not complete goes unread longer than `recheck`. `full` reads
everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from bridge.errors import SourceError
from bridge.model import Batch, Fact, FactKind, Identity, OutOfRange, Watermark, utc
from connectors.base import REREAD, SourceState
from connectors.moodle import needs
from connectors.moodle.client import (
    Checked,
    MissingCapability,
    MoodleClient,
    NoCriteria,
    NotEnrolled,
    _adapter,
)
from connectors.moodle.config import MoodleConfig
from connectors.moodle.detect import Mark, due_for_recheck
from connectors.moodle.payloads import ActivitiesStatus, CourseCompletion, EnrolledUser, UserDetails
from connectors.moodle.signals import CourseSignals

__all__ = ["Reads", "read_learner", "CoursePull", "RosterRow", "roster_rows"]

USERFIELDS = "id,username,fullname,email,lastcourseaccess,roles"
ROSTER = "core_enrol_get_enrolled_users"
# Learners per stored batch: a roster page is stored in slices as their reads end.
STEP = 200
STATES = {0: "incomplete", 1: "complete", 2: "complete-pass", 3: "complete-fail"}

Report = Callable[[SourceError], None]


@dataclass
class Reads:
    """What Moodle lets the connector read in one course this run (None: not tried yet)."""

    criteria: bool = True
    course: bool | None = None
    activities: bool | None = None
    completed: set[int] | None = None  # complete per the completion report; None: no report

    @property
    def refused(self) -> bool:
        return self.course is False or self.activities is False


@dataclass
class Read:
    facts: list[Fact] = field(default_factory=list)
    partial: bool = False  # a part was refused: read again once Moodle allows it


def read_learner(client: MoodleClient, config: MoodleConfig, course: str, uid: int, reads: Reads,
                 report: Report) -> Read | SourceError:
    """A learner's course and activity completion; a refused part is reported and left out."""
    source, ext, out = client.http.source_id, str(uid), Read()
    try:
        if reads.criteria and reads.course is not False:
            if reads.completed is not None and uid not in reads.completed:
                out.facts.append(Fact(source=source, external_id=ext, kind=FactKind.course_completion,
                                      course=course, value=0.0, status="incomplete"))
            else:
                try:
                    cc = client.call("core_completion_get_course_completion_status", CourseCompletion,
                                     courseid=course, userid=uid)
                except NoCriteria:
                    reads.criteria = False  # asked once per course and run, not per learner
                except MissingCapability as exc:
                    reads.course, out.partial = False, True
                    report(exc)
                else:
                    reads.course = True
                    out.facts.append(_course_fact(source, course, ext, cc))
        out.partial = out.partial or reads.course is False
        if config.activities and reads.activities is not False:
            try:
                acts = client.call("core_completion_get_activities_completion_status",
                                   ActivitiesStatus, courseid=course, userid=uid)
            except MissingCapability as exc:
                reads.activities, out.partial = False, True
                report(exc)
            else:
                reads.activities = True
                out.facts.extend(_activity_facts(source, course, ext, acts))
        out.partial = out.partial or (config.activities and reads.activities is False)
    except NotEnrolled:
        return Read()
    except SourceError as exc:
        return exc
    return out


def _when(value: int | None, source: str, endpoint: str, field: str, ext: str) -> datetime | None:
    """A payload's timestamp; one out of range refuses this learner's read alone, naming the
    endpoint, the field and the learner's id on Moodle."""
    try:
        return utc(value)
    except OutOfRange as exc:
        raise SourceError(f"learner {ext}: {exc}", source=source, endpoint=endpoint, field=field,
                          code="out_of_range") from None


def _course_fact(source: str, course: str, ext: str, cc: CourseCompletion) -> Fact:
    times = [c.timecompleted for c in cc.completionstatus.completions if c.timecompleted]
    done = cc.completionstatus.completed
    return Fact(source=source, external_id=ext, kind=FactKind.course_completion, course=course,
                value=1.0 if done else 0.0, status="complete" if done else "incomplete",
                occurred_at=_when(max(times), source, "core_completion_get_course_completion_status",
                                  "completionstatus.completions.timecompleted", ext)
                if done and times else None)


def _activity_facts(source: str, course: str, ext: str, acts: ActivitiesStatus) -> list[Fact]:
    return [Fact(source=source, external_id=ext, kind=FactKind.activity_completion, course=course,
                 item=str(a.cmid), value=1.0 if a.state in (1, 2) else 0.0, status=STATES[a.state],
                 occurred_at=_when(a.timecompleted, source, "core_completion_get_activities_completion_status",
                                   "statuses.timecompleted", ext) if a.state in (1, 2) else None,
                 attrs={"modname": a.modname})
            for a in acts.statuses]


class RosterRow:
    """A roster row as the pull uses it: the fields `EnrolledUser` declares, the roles' short
    names, and whether the row carried `email` at all (without it, the token's role may not
    see emails)."""

    __slots__ = ("id", "username", "fullname", "email", "has_email", "lastcourseaccess", "roles")

    def __init__(self, id: int, username: str | None, fullname: str | None,  # noqa: A002
                 email: str | None, has_email: bool, lastcourseaccess: int | None,
                 roles: tuple[str, ...]) -> None:
        self.id, self.username, self.fullname, self.email = id, username, fullname, email
        self.has_email, self.lastcourseaccess, self.roles = has_email, lastcourseaccess, roles


_TEXT = (str, type(None))


def roster_rows(payload: object) -> list[RosterRow]:
    """A roster page, checked field by field as `EnrolledUser` declares them (a third of the
    model's cost on a page of 1,000 rows, and no model per learner). A page with a row of any
    other shape goes through the model, which refuses it or coerces it as it always did."""
    if isinstance(payload, list):
        out = []
        for row in payload:
            if type(row) is not dict:
                break
            uid, access, roles = row.get("id"), row.get("lastcourseaccess"), row.get("roles", [])
            username, fullname, email = row.get("username"), row.get("fullname"), row.get("email")
            if (type(uid) is not int or (access is not None and type(access) is not int)
                    or not isinstance(username, _TEXT) or not isinstance(fullname, _TEXT)
                    or not isinstance(email, _TEXT) or type(roles) is not list
                    or not all(type(r) is dict and type(r.get("shortname")) is str for r in roles)):
                break
            out.append(RosterRow(uid, username, fullname, email, "email" in row, access,
                                 tuple(r["shortname"] for r in roles)))
        else:
            return out
    return [RosterRow(u.id, u.username, u.fullname, u.email, "email" in u.model_fields_set,
                      u.lastcourseaccess, tuple(r.shortname for r in u.roles))
            for u in _adapter(list[EnrolledUser]).validate_python(payload)]


ROSTER_ROWS = Checked(roster_rows)


@dataclass
class _Page:
    """A roster page on its way: its learners, their signals and marks, their reads."""

    users: list[RosterRow]
    signal: dict[int, str]
    marks: dict[int, Mark | None]
    reads: dict[int, Future[Read | SourceError]]


def _row_digest(u: RosterRow) -> str:
    """What the stored identity and enrolment are made of in a roster row."""
    row = "\x1f".join([u.username or "", u.fullname or "", u.email or "", str(u.has_email),
                        *sorted(u.roles)])
    return hashlib.blake2b(row.encode(), digest_size=6).hexdigest()


class CoursePull:
    """Batches of one course: a batch per roster page, then the course's own watermark."""

    def __init__(self, client: MoodleClient, config: MoodleConfig, course: str, state: SourceState,
                 report: Report, *, signals: CourseSignals, completed: set[int] | None,
                 marks: Mapping[str, str], now: int) -> None:
        self.client, self.config, self.course, self.report = client, config, course, report
        self.state, self.warn = state, state.warn
        self.source = client.http.source_id
        self.signals, self.now = signals, now
        self.full = state.full
        self.complete = state.holding(course, FactKind.course_completion)
        self.marks = marks  # the `access:<id>` watermarks of the course (marks_of)
        self.requeued = {int(s.removeprefix(REREAD)) for s, v in state.watermarks(course, REREAD).items()
                         if v == "1" and s.removeprefix(REREAD).isdigit()}
        last = state.watermark(course, "pulled")
        self.elapsed = now - int(last) if last and last.isdigit() else 0
        self.reads = Reads(completed=completed)
        self.learners = self.without_email = self.without_lang = self.skipped = 0
        self.listed: set[int] = set()  # everyone the roster showed, whatever their role
        self._learner_roles = frozenset(config.learner_roles)

    def batches(self) -> Iterator[Batch]:
        offset, size, seen = 0, self.config.page_size, self.listed
        pending: _Page | None = None
        with ThreadPoolExecutor(self.config.parallel, thread_name_prefix=f"moodle-{self.source}") as pool:
            while True:
                page = self.client.call(ROSTER, ROSTER_ROWS, courseid=self.course, options=[
                    {"name": "userfields", "value": USERFIELDS}, {"name": "limitfrom", "value": offset},
                    {"name": "limitnumber", "value": size}, {"name": "sortby", "value": "id"}])
                fresh = [u for u in page if u.id not in seen]
                seen.update(u.id for u in page)  # self.listed: one set of the roster's ids
                learners = [u for u in fresh if self._is_learner(u)]
                # Pipelined: this page's reads start in the pool while the previous page's
                # batch is built and stored by the caller.
                started = self._start(learners, pool) if learners else None
                if pending is not None:
                    yield from self._finish(pending)
                pending = started
                if len(page) < size:
                    break
                offset += size
            if pending is not None:
                yield from self._finish(pending)
        self._silent_gaps()
        yield Batch(watermarks=[Watermark(source=self.source, course=self.course, stream="pulled",
                                          value=str(self.now))])

    def _is_learner(self, user: RosterRow) -> bool:
        return not user.roles or not self._learner_roles.isdisjoint(user.roles)

    def _silent_gaps(self) -> None:
        """What Moodle left out without an error, said once (see needs.CAPABILITIES, silent)."""
        def gap(capabilities: tuple[str, ...], text: str, endpoint: str = ROSTER,
                warning: bool = False) -> None:
            (self.warn if warning else self.report)(MissingCapability(
                text, capabilities=capabilities, source=self.source, endpoint=endpoint,
                code="silent", fix=needs.grant(capabilities, self.client.user)))
        if not self.learners and self.signals.users and not self.signals.users & self.listed:
            gap(("moodle/user:viewdetails",), f"course {self.course}: the roster came back empty "
                f"while the grade report or attendance lists {len(self.signals.users)} learners")
        if self.without_email:
            gap(("moodle/site:viewuseridentity", "moodle/course:useremail"),
                f"course {self.course}: {self.without_email} of {self.learners} learners came "
                "without their email; they cannot receive badges")
        if self.without_lang:
            gap(("moodle/user:viewalldetails",), f"{self.without_lang} learners came without their "
                "language; their emails use the default language", "core_user_get_users_by_field",
                warning=True)

    def _start(self, users: list[RosterRow], pool: ThreadPoolExecutor) -> _Page:
        """Who on this roster page is read; their reads are handed to the pool."""
        self.learners += len(users)
        self.without_email += sum(not u.has_email for u in users)
        signal = {u.id: f"{u.lastcourseaccess or 0}|{self.signals.digest(u.id)}" for u in users}
        marks = {u.id: Mark.parse(self.marks.get(f"access:{u.id}")) for u in users}
        return _Page(users, signal, marks, self._read_all(*self._to_read(users, signal, marks), pool))

    def _finish(self, page: _Page) -> Iterator[Batch]:
        """The page's batches, STEP learners at a time as their reads end (the caller stores
        one while the pool reads on): learners read, or whose signal or roster row changed.
        A learner with nothing new is left out whole (identity, enrolment, mark): a no-change
        run stores nothing."""
        for i in range(0, len(page.users), STEP):
            batch = self._batch(page, page.users[i:i + STEP])
            if batch is not None:
                yield batch

    def _batch(self, page: _Page, users: list[RosterRow]) -> Batch | None:
        results = {u.id: page.reads[u.id].result() for u in users if u.id in page.reads}
        changed: list[tuple[RosterRow, str]] = []
        for u in users:
            old, row = page.marks[u.id], _row_digest(u)
            if (self.full or u.id in results or old is None or old.signal != page.signal[u.id]
                    or old.row != row):
                changed.append((u, row))
        self.skipped += len(users) - len(changed)
        if not changed:
            return None
        known = self.state.identities_of([str(u.id) for u, _ in changed])
        langs = self._languages([u.id for u, _ in changed if str(u.id) not in known])
        identities, facts, watermarks = [], [], []
        for u, row in changed:
            ext = str(u.id)
            lang = langs.get(u.id) or (known[ext].lang if ext in known else None)
            identities.append(Identity(source=self.source, external_id=ext, username=u.username,
                                       email=u.email, fullname=u.fullname,
                                       lang=str(lang) if lang else None))
            facts.append(Fact(source=self.source, external_id=ext, kind=FactKind.enrolment,
                              course=self.course, value=1.0, status="enrolled"))
            old, result, signal = page.marks[u.id], results.get(u.id), page.signal[u.id]
            if isinstance(result, SourceError):
                self.report(result)
                continue
            if result is not None:
                mark = Mark(signal, self.now, result.partial, row)
                facts.extend(result.facts)
                if u.id in self.requeued:  # read again after a push: no longer queued
                    watermarks.append(Watermark(source=self.source, course=self.course,
                                                stream=f"{REREAD}{u.id}", value=""))
            else:
                mark = Mark(signal, old.read_at if old else self.now, bool(old and old.partial), row)
            facts.extend(self.signals.facts_of(u.id))
            watermarks.append(Watermark(source=self.source, course=self.course,
                                        stream=f"access:{u.id}", value=mark.dump()))
        return Batch(identities=identities, facts=facts, watermarks=watermarks)

    def _to_read(self, users: list[RosterRow], signal: dict[int, str],
                 marks: dict[int, Mark | None]) -> tuple[list[int], list[int]]:
        """(learners to read, learners to read only if Moodle no longer refuses a part)."""
        completed = self.reads.completed or set()
        must, partial, rest = [], [], []
        for u in users:
            mark, done = marks[u.id], str(u.id) in self.complete
            if self.full or u.id in self.requeued or (mark is None and not done):
                must.append(u.id)
            elif done or mark is None:
                continue
            elif mark.signal != signal[u.id] or u.id in completed:
                must.append(u.id)
            elif mark.partial:
                partial.append(u.id)
            else:
                rest.append((u.id, mark))
        return must + due_for_recheck(rest, now=self.now, elapsed=self.elapsed,
                                      recheck=int(self.config.recheck.total_seconds())), partial

    def _read_all(self, must: list[int], partial: list[int],
                  pool: ThreadPoolExecutor) -> dict[int, Future[Read | SourceError]]:
        """Reads handed to the pool; the course's first read goes alone, so that a part Moodle
        refuses is asked once, and learners waiting only for that part are not read for nothing."""
        def read(uid: int) -> Read | SourceError:
            return read_learner(self.client, self.config, self.course, uid, self.reads, self.report)
        results: dict[int, Future[Read | SourceError]] = {}
        first = (must + partial)[:1]
        if first and (self.reads.course is None or self.reads.activities is None):
            done: Future[Read | SourceError] = Future()
            done.set_result(read(first[0]))
            results[first[0]] = done
        for uid in must + ([] if self.reads.refused else partial):
            if uid not in results:
                results[uid] = pool.submit(read, uid)
        return results

    def _languages(self, user_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for i in range(0, len(user_ids), 100):
            for d in self.client.call("core_user_get_users_by_field", list[UserDetails], field="id",
                                      values=user_ids[i:i + 100]):
                if "lang" not in d.model_fields_set:
                    self.without_lang += 1
                elif d.lang:
                    out[d.id] = d.lang
        return out
