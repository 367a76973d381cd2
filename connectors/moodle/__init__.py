"""The Moodle connector: roster, course and activity completion, pushed completion overrides.

Cost of a run (per course): one pass over the roster in pages of `page_size`, a language
look-up for new learners only (100 ids a call), and two per-learner completion calls only for
learners not yet complete whose `lastcourseaccess` moved since they were last read. The
per-learner calls run in a pool of at most `parallel` concurrent requests (default 4).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from bridge.config import SourceConfig
from bridge.errors import SourceError
from bridge.model import (
    Attestation,
    Batch,
    Fact,
    FactKind,
    Identity,
    PushResult,
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

__all__ = ["MoodleConnector", "MoodleConfig"]

REQUIRED_FUNCTIONS = (
    "core_enrol_get_enrolled_users",
    "core_user_get_users_by_field",
    "core_completion_get_course_completion_status",
    "core_completion_get_activities_completion_status",
)
USERFIELDS = "id,username,fullname,email,lastcourseaccess,roles"


class MoodleConfig(SourceConfig):
    kind: Literal["moodle"] = "moodle"
    url: str = Field(description="the site's base URL, e.g. https://moodle.example.org")
    token: SecretStr = Field(description="a web-service token of a dedicated service user")
    courses: list[str] = Field(default_factory=list, description="course ids; empty = every course")
    learner_roles: list[str] = Field(default_factory=lambda: ["student"])
    page_size: int = Field(1000, ge=1, le=10000)
    parallel: int = Field(4, ge=1, le=32)
    activities: bool = True
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(5, ge=0, le=20)
    backoff: float = Field(0.5, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

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
        self.http = http or HttpClient(source_id, timeout=config.timeout, retries=config.retries,
                                       backoff=config.backoff, pool=config.parallel + 2)
        self.client = MoodleClient(self.http, config.url, config.token.get_secret_value())
        self._site: SiteInfo | None = None

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
        return [f"source {self.source_id}: function {name} is not enabled for the token; "
                "add it to the web service" for name in REQUIRED_FUNCTIONS if name not in allowed]

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
        known = state.known_identities()
        for course in self.course_ids():
            try:
                yield from self._pull_course(course, state, known)
            except SourceError as exc:
                state.report(exc)

    def _pull_course(self, course: str, state: SourceState,
                     known: dict[str, dict[str, object]]) -> Iterator[Batch]:
        complete = state.holding(course, FactKind.course_completion)
        last_read = state.watermarks(course, "access:")
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
                    yield self._page_batch(course, learners, known, complete, last_read, ctx, pool, state)
                if len(page) < size:
                    return
                offset += size

    def _is_learner(self, user: EnrolledUser) -> bool:
        roles = {r.shortname for r in user.roles}
        return not roles or bool(roles & set(self.config.learner_roles))

    def _page_batch(self, course: str, users: list[EnrolledUser], known: dict[str, dict[str, object]],
                    complete: set[str], last_read: dict[str, str], ctx: dict[str, bool],
                    pool: ThreadPoolExecutor, state: SourceState) -> Batch:
        langs = self._languages([u.id for u in users if str(u.id) not in known])
        identities = []
        facts: list[Fact] = []
        for u in users:
            ext = str(u.id)
            lang = langs.get(u.id) or (known.get(ext) or {}).get("lang")
            identities.append(Identity(source=self.source_id, external_id=ext, username=u.username,
                                       email=u.email, fullname=u.fullname,
                                       lang=str(lang) if lang else None))
            facts.append(Fact(source=self.source_id, external_id=ext, kind=FactKind.enrolment,
                              course=course, value=1.0, status="enrolled"))
        to_read = [u for u in users if str(u.id) not in complete
                   and last_read.get(f"access:{u.id}") != str(u.lastcourseaccess or 0)]
        watermarks = []
        for user, result in zip(to_read, pool.map(lambda u: self._read_learner(course, u, ctx), to_read),
                                strict=True):
            if isinstance(result, SourceError):
                state.report(result)
                continue
            facts.extend(result)
            watermarks.append(Watermark(source=self.source_id, course=course,
                                        stream=f"access:{user.id}", value=str(user.lastcourseaccess or 0)))
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

    def _read_learner(self, course: str, user: EnrolledUser, ctx: dict[str, bool]) -> list[Fact] | SourceError:
        ext = str(user.id)
        facts: list[Fact] = []
        try:
            if ctx["criteria"]:
                try:
                    cc = self.client.call("core_completion_get_course_completion_status",
                                          CourseCompletion, courseid=course, userid=user.id)
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
                                        ActivitiesStatus, courseid=course, userid=user.id)
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

    # -- push ---------------------------------------------------------------
    def push(self, attestation: Attestation) -> PushResult:
        kind, _, target = attestation.target.partition(":")
        if kind != "completion":
            raise MoodleError(f"unsupported push target {attestation.target!r}",
                              source=self.source_id, endpoint="push")
        body = self.client.call("core_completion_override_activity_completion_status",
                                userid=attestation.external_id, cmid=target, newstate=1)
        state = body.get("state") if isinstance(body, dict) else None
        # Moodle silently ignores an override on an activity without completion tracking.
        return PushResult(accepted=state == 1, message="" if state == 1 else f"state is {state}",
                          response={k: v for k, v in (body or {}).items()
                                    if isinstance(v, (str, int, float, bool)) or v is None})
