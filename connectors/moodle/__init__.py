"""The Moodle connector: roster, completion, grades, attendance; presence pushed back.

Request bound of a run: 1 (site info) + 1 (course list, only when none is configured), then
per course 1 (grade report) + 1 (contents, for attendance instances) + 1 per attendance
instance + ceil(roster / `page_size`) roster pages + ceil(new learners / 100) language
look-ups + 2 per learner *whose signal moved and who is not yet complete*. A learner's signal
is `lastcourseaccess` plus a digest of their grades and attendance statuses, so a teacher's
action is seen too; a learner who never entered the course and has no signal is not read. A no-change run costs 4 + ceil(roster / page_size) per course. The
per-learner calls run in a pool of at most `parallel` concurrent requests (default 4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from bridge.config import HttpSourceConfig, SourceConfig
from bridge.errors import SourceError
from bridge.model import (
    Attestation,
    Batch,
    Fact,
    FactKind,
    Identity,
    PushResult,
    SessionInfo,
    Watermark,
    utc,
)
from connectors.base import SourceState
from connectors.http import HttpClient
from connectors.moodle.client import MoodleClient, MoodleError, NoCriteria, NotEnrolled
from connectors.moodle.payloads import (
    ActivitiesStatus,
    Course,
    CourseCompletion,
    EnrolledUser,
    SiteInfo,
    UserDetails,
)
from connectors.moodle.push import push_attendance, push_completion
from connectors.moodle.signals import (
    CourseSignals,
    attendance_instances,
    course_sessions,
    read_signals,
)
from connectors.push_route import PushRoute

__all__ = ["MoodleConnector", "MoodleConfig"]

REQUIRED_FUNCTIONS = (
    "core_enrol_get_enrolled_users",
    "core_user_get_users_by_field",
    "core_completion_get_course_completion_status",
    "core_completion_get_activities_completion_status",
)
# Optional functions: without them a part of the data is missing, reported once a run.
OPTIONAL_FUNCTIONS = {
    "gradereport_user_get_grade_items": "grades",
    "core_course_get_contents": "attendance sessions (finding the attendance activities)",
    "mod_attendance_get_sessions": "attendance sessions",
    "core_course_get_courses": "listing courses when none is configured",
    "core_completion_override_activity_completion_status": "pushing completion",
    "mod_attendance_get_session": "pushing attendance status",
    "mod_attendance_update_user_status": "pushing attendance status",
}
USERFIELDS = "id,username,fullname,email,lastcourseaccess,roles"


class MoodleConfig(HttpSourceConfig):
    kind: Literal["moodle"] = "moodle"
    url: str = Field(description="the site's base URL, e.g. https://moodle.example.org")
    token: SecretStr = Field(description="a web-service token of a dedicated service user")
    courses: list[str] = Field(default_factory=list, description="course ids; empty = every course")
    learner_roles: list[str] = Field(default_factory=lambda: ["student"])
    page_size: int = Field(1000, ge=1, le=10000)
    activities: bool = True
    grades: bool = True
    attendance: bool = True
    present_statuses: list[str] = Field(default_factory=lambda: ["P", "L"],
                                        description="attendance acronyms that count as presence")
    session_tags: list[str] = Field(default_factory=list,
                                    description="tags given to every attendance session's facts")
    taker_id: int | None = Field(None, description="teacher user id recorded as taker of pushed "
                                 "attendance; default: the token user")
    push: list[PushRoute] = Field(default_factory=list,
                                       description="presence push-back routes, see jobs.push")

    @field_validator("courses", mode="before")
    @classmethod
    def _courses(cls, v: Any) -> Any:
        return [str(c) for c in v] if isinstance(v, list) else v


class MoodleConnector:
    """Pulls from a Moodle site through its REST web services."""

    kind: ClassVar[str] = "moodle"
    config_model: ClassVar[type[SourceConfig]] = MoodleConfig

    def __init__(self, source_id: str, config: MoodleConfig, *, http: HttpClient | None = None) -> None:
        self.source_id, self.config = source_id, config
        self.http = http or HttpClient.for_source(source_id, config)
        self.client = MoodleClient(self.http, config.url, config.token.get_secret_value())
        self._site: SiteInfo | None = None

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.http.by_endpoint)

    def close(self) -> None:
        self.http.close()

    # -- start-up -----------------------------------------------------------
    def site_info(self) -> SiteInfo:
        if self._site is None:
            self._site = self.client.call("core_webservice_get_site_info", SiteInfo)
        return self._site

    def check(self) -> list[str]:
        try:
            site = self.site_info()
        except SourceError as exc:
            return [str(exc)]
        allowed = {f.name for f in site.functions}
        problems = [f"source {self.source_id}: function {name} is not enabled for the token; "
                    "add it to the web service" for name in REQUIRED_FUNCTIONS if name not in allowed]
        problems += [f"source {self.source_id}: function {name} is not enabled for the token; "
                     f"no {what}" for name, what in self._missing_optional()]
        return problems

    def _missing_optional(self) -> list[tuple[str, str]]:
        return [(name, what) for name, what in OPTIONAL_FUNCTIONS.items()
                if self._wants(name) and not self._has(name)]

    def _wants(self, function: str) -> bool:
        if function == "gradereport_user_get_grade_items":
            return self.config.grades
        if function == "core_course_get_courses":
            return not self.config.courses
        if function in ("mod_attendance_get_sessions", "core_course_get_contents"):
            return self.config.attendance
        return False  # push functions are checked when a push needs them

    def _has(self, function: str) -> bool:
        return function in {f.name for f in self.site_info().functions}

    def course_ids(self) -> list[str]:
        if self.config.courses:
            return list(self.config.courses)
        courses = self.client.call("core_course_get_courses", list[Course])
        return [str(c.id) for c in courses if c.id != 1]  # id 1 is the site front page

    # -- pull ---------------------------------------------------------------
    def pull(self, state: SourceState) -> Iterator[Batch]:
        site = self.site_info()
        missing = {f for f in REQUIRED_FUNCTIONS if f not in {fn.name for fn in site.functions}}
        if missing:
            raise MoodleError(f"functions not enabled for the token: {', '.join(sorted(missing))}",
                              source=self.source_id, endpoint="core_webservice_get_site_info",
                              code="accessexception")
        for name, what in self._missing_optional():  # reported once a run, then carry on
            state.report(MoodleError(f"function {name} is not enabled for the token: no {what}",
                                     source=self.source_id, endpoint="core_webservice_get_site_info",
                                     code="accessexception"))
        known = state.known_identities()
        for course in self.course_ids():
            try:
                yield from self._pull_course(course, state, known)
            except SourceError as exc:
                state.report(exc)

    def _pull_course(self, course: str, state: SourceState,
                     known: Mapping[str, Identity]) -> Iterator[Batch]:
        complete = state.holding(course, FactKind.course_completion)
        last_read = state.watermarks(course, "access:")
        signals = self._signals(course, state)
        ctx = {"criteria": True}
        offset, size = 0, self.config.page_size
        seen: set[int] = set()
        with ThreadPoolExecutor(self.config.parallel, thread_name_prefix=f"moodle-{self.source_id}") as pool:
            while True:
                page = self.client.call(
                    "core_enrol_get_enrolled_users", list[EnrolledUser], courseid=course,
                    options=[{"name": "userfields", "value": USERFIELDS},
                             {"name": "limitfrom", "value": offset},
                             {"name": "limitnumber", "value": size},
                             {"name": "sortby", "value": "id"}])
                fresh = [u for u in page if u.id not in seen]
                seen.update(u.id for u in page)
                learners = [u for u in fresh if self._is_learner(u)]
                if learners:
                    yield self._page_batch(course, learners, known, complete, last_read, signals,
                                           ctx, pool, state)
                if len(page) < size:
                    return
                offset += size

    def _is_learner(self, user: EnrolledUser) -> bool:
        roles = {r.shortname for r in user.roles}
        return not roles or bool(roles & set(self.config.learner_roles))

    def _signals(self, course: str, state: SourceState) -> CourseSignals:
        """Grades and attendance of the whole course; a failure is reported, not fatal."""
        grades = self.config.grades and self._has("gradereport_user_get_grade_items")
        instances: list[int] = []
        try:
            if self.config.attendance and self._has("mod_attendance_get_sessions") \
                    and self._has("core_course_get_contents"):
                instances = attendance_instances(self.client, course)
            return read_signals(self.client, self.source_id, course, grades=grades,
                                attendance=instances, present=set(self.config.present_statuses),
                                tags=self.config.session_tags)
        except SourceError as exc:
            state.report(exc)
            return CourseSignals()

    def _page_batch(self, course: str, users: list[EnrolledUser], known: Mapping[str, Identity],
                    complete: set[str], last_read: dict[str, str], signals: CourseSignals,
                    ctx: dict[str, bool], pool: ThreadPoolExecutor, state: SourceState) -> Batch:
        langs = self._languages([u.id for u in users if str(u.id) not in known])
        identities = []
        facts: list[Fact] = []
        for u in users:
            ext = str(u.id)
            lang = langs.get(u.id) or (known[ext].lang if ext in known else None)
            identities.append(Identity(source=self.source_id, external_id=ext, username=u.username,
                                       email=u.email, fullname=u.fullname,
                                       lang=str(lang) if lang else None))
            facts.append(Fact(source=self.source_id, external_id=ext, kind=FactKind.enrolment,
                              course=course, value=1.0, status="enrolled"))
        signal = {u.id: f"{u.lastcourseaccess or 0}|{signals.digest(u.id)}" for u in users}
        moved = [u for u in users if last_read.get(f"access:{u.id}") != signal[u.id]]
        # never in the course, no grade, no attendance: nothing of theirs can be complete yet
        to_read = [u for u in moved if str(u.id) not in complete
                   and (u.lastcourseaccess or signals.digest(u.id))]
        results = dict(zip([u.id for u in to_read],
                           pool.map(lambda u: self._read_learner(course, u.id, ctx), to_read), strict=True))
        watermarks = []
        for user in moved:
            result = results.get(user.id, [])
            if isinstance(result, SourceError):
                state.report(result)
                continue
            facts.extend(result)
            facts.extend(signals.facts.get(user.id, []))
            watermarks.append(Watermark(source=self.source_id, course=course,
                                        stream=f"access:{user.id}", value=signal[user.id]))
        return Batch(identities=identities, facts=facts, watermarks=watermarks)

    def _languages(self, user_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for i in range(0, len(user_ids), 100):
            chunk = user_ids[i:i + 100]
            for d in self.client.call("core_user_get_users_by_field", list[UserDetails], field="id",
                                      values=chunk):
                if d.lang:
                    out[d.id] = d.lang
        return out

    def _read_learner(self, course: str, user_id: int, ctx: dict[str, bool]) -> list[Fact] | SourceError:
        ext = str(user_id)
        facts: list[Fact] = []
        try:
            if ctx["criteria"]:
                try:
                    cc = self.client.call("core_completion_get_course_completion_status",
                                          CourseCompletion, courseid=course, userid=user_id)
                except NoCriteria:
                    ctx["criteria"] = False  # asked once per course and run, not per learner
                else:
                    times = [c.timecompleted for c in cc.completionstatus.completions if c.timecompleted]
                    done = cc.completionstatus.completed
                    facts.append(Fact(source=self.source_id, external_id=ext,
                                      kind=FactKind.course_completion, course=course,
                                      value=1.0 if done else 0.0,
                                      status="complete" if done else "incomplete",
                                      occurred_at=utc(max(times)) if done and times else None))
            if self.config.activities:
                acts = self.client.call("core_completion_get_activities_completion_status",
                                        ActivitiesStatus, courseid=course, userid=user_id)
                for a in acts.statuses:
                    done = a.state in (1, 2)
                    facts.append(Fact(source=self.source_id, external_id=ext,
                                      kind=FactKind.activity_completion, course=course,
                                      item=str(a.cmid), value=1.0 if done else 0.0,
                                      status={0: "incomplete", 1: "complete", 2: "complete-pass",
                                              3: "complete-fail"}[a.state],
                                      occurred_at=utc(a.timecompleted) if done else None,
                                      attrs={"modname": a.modname}))
        except NotEnrolled:
            return []
        except SourceError as exc:
            return exc
        return facts

    def meetup_sessions(self, course: str) -> list[SessionInfo]:
        """A course's attendance sessions, for a meetups source to take check-ins at."""
        return course_sessions(self.client, self.source_id, course)

    # -- push ---------------------------------------------------------------
    def push(self, attestation: Attestation) -> PushResult:
        """Targets: `completion:<cmid>` (override) or `attendance:<sessionid>` (status P)."""
        kind, _, target = attestation.target.partition(":")
        if kind == "completion" and target.isdigit():
            result = push_completion(self.client, self.source_id, attestation, int(target))
            # The override may have completed the course: read the learner back once.
            facts = self._read_learner(attestation.course, int(attestation.external_id), {"criteria": True})
            return dataclasses.replace(result, facts=facts) if isinstance(facts, list) else result
        if kind == "attendance" and target.isdigit():
            taker = self.config.taker_id or self.site_info().userid
            return push_attendance(self.client, self.source_id, attestation, int(target), taker)
        raise MoodleError(f"unsupported push target {attestation.target!r}; expected "
                          "completion:<cmid> or attendance:<sessionid>",
                          source=self.source_id, endpoint="push")
