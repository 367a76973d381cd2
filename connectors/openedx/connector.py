"""The Open edX connector: enrollments, grades, emails, course completion and certificates of a
current LMS, read as a global-staff service user; presence pushed back through completion-batch.

Request bound of a run, per course (E enrolled learners): 1 token for the run (renewed ~60 s
before expiry), 1 course detail (its name, for the evidence), ceil(E / 100) enrollment pages (100 is the server's maximum; throttled to
120 a minute unless `api_key` is sent with the token), ceil(E / page_size) grade pages,
ceil(E / page_size) aggregator pages when the plugin is installed, ceil(L / 100) account
reads for the L learners not yet known with an email, 1 certificate read per learner who
passed without a certificate during the last `certificate_wait`, and, with `blocks`, 1
blocks read per learner whose signal (enrolment, grade, aggregator percent) moved.
A no-change run costs the paged passes and nothing per learner.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from bridge import logs
from bridge.config import SourceConfig
from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from bridge.model import (
    Attestation,
    Batch,
    CourseSeen,
    Fact,
    FactKind,
    Identity,
    Probe,
    PushResult,
    Watermark,
)
from connectors.base import SourceState
from connectors.edx_common import get_json, per_learner
from connectors.http import HttpClient, follow_next
from connectors.openedx.auth import ClientCredentials
from connectors.openedx.blocks import CourseBlocks
from connectors.openedx.config import OpenEdxConfig
from connectors.openedx.payloads import (
    Account,
    AggregatorPage,
    Certificate,
    CourseDetail,
    EnrollmentPage,
    GradePage,
)
from connectors.openedx.push import push_block, target_refusal
from connectors.openedx.refusals import classify, is_page_not_found
from connectors.openedx.requirements import NEEDS, REQUIREMENTS
from connectors.requirements import Requirement

__all__ = ["OpenEdxConnector"]

ENROLLMENT_PAGE = 100  # CourseEnrollmentsApiListPagination.max_page_size
ACCOUNTS_BATCH = 100  # usernames a call: the query string stays short
AGGREGATOR = "completion-aggregator/v1/course"


class OpenEdxConnector:
    """Pulls enrollments, grades, completion and certificates from an Open edX LMS."""

    kind: ClassVar[str] = "openedx"
    config_model: ClassVar[type[SourceConfig]] = OpenEdxConfig
    requirements: ClassVar[tuple[Requirement, ...]] = REQUIREMENTS

    def __init__(self, source_id: str, config: OpenEdxConfig, *, http: HttpClient | None = None) -> None:
        self.source_id, self.config = source_id, config
        self.http = http or HttpClient.for_source(source_id, config)
        self.auth = ClientCredentials(
            self.http, f"{config.url}/oauth2/access_token", config.client_id,
            config.client_secret.get_secret_value(),
            api_key=config.api_key.get_secret_value() if config.api_key else None)
        self.http.auth = self.auth
        self.blocks = CourseBlocks(config.url, self.get)
        self._aggregator = config.completion  # False once found not installed
        self._course_names: dict[str, str] = {}

    @classmethod
    def push_target_refusal(cls, target: str, course: str) -> str | None:
        """Why a push route's target cannot work on this kind of source (None if it can)."""
        return target_refusal(target, course)

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.http.by_endpoint)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, model: Any, endpoint: str) -> Any:
        """A validated GET; a 403 says which setup is missing (staff flag, restricted app)."""
        try:
            return get_json(self.http, url, model, endpoint)
        except PermanentSourceError as exc:
            raise classify(exc, self.auth.claims) from None

    def _pages(self, path: str, params: dict[str, Any], model: Any, endpoint: str,
               next_of: Any = lambda p: p.next) -> Iterator[Any]:
        first = f"{self.config.url}{path}?{urlencode(params)}"
        return follow_next(lambda url: self.get(url, model, endpoint), first,
                           source=self.source_id, endpoint=endpoint, next_of=next_of)

    def check(self) -> list[str]:
        try:
            self.auth(True)
            roles = self.get(f"{self.config.url}/api/enrollment/v1/roles/", dict[str, Any],
                             "enrollment/v1/roles")
        except SourceError as exc:
            return [str(exc)]
        if not roles.get("is_staff"):
            return [f"source {self.source_id}: the service user is not global staff — fix: "
                    f"{NEEDS['global_staff'].fix}"]
        return []

    def probes(self, pushed: Sequence[tuple[str, str]] = ()) -> list[Probe]:
        """What `badge-bridge doctor` asks the LMS, without changing anything; `pushed`: the
        (course, target) of the routes pushing presence to this source."""
        from connectors.openedx.doctor import OpenEdxProbes

        return OpenEdxProbes(self, pushed).probes()

    def discover(self, only: Sequence[str] = ()) -> list[CourseSeen]:
        """The LMS's courses (or those of `only`) and their staff-graded blocks, for `init`."""
        from connectors.openedx.doctor import discover

        return discover(self, only)

    # -- pull ---------------------------------------------------------------
    def pull(self, state: SourceState) -> Iterator[Batch]:
        known = dict(state.known_identities())
        for course in self.config.courses:
            try:
                with logs.context(course=course):
                    batch = self._pull_course(course, state, known)
                yield batch
            except FixableSourceError as exc:
                state.report(exc)  # the same setup problem for every course: said once
                return
            except SourceError as exc:
                state.report(exc)

    def _course_name(self, course: str, state: SourceState) -> str:
        """The course's display name (Course API detail, once per course and connector); the
        evidence of a badge names the course with it. A failed read leaves the facts unnamed."""
        if course not in self._course_names:
            url = f"{self.config.url}/api/courses/v1/courses/{quote(course, safe='')}/"
            try:
                self._course_names[course] = self.get(url, CourseDetail, "courses/v1/courses").name
            except SourceError as exc:
                state.warn(exc)
                self._course_names[course] = ""
        return self._course_names[course]

    def _pull_course(self, course: str, state: SourceState, known: dict[str, Identity]) -> Batch:
        self._course_name(course, state)
        enrolled: dict[str, bool] = {}
        for page in self._pages("/api/enrollment/v1/enrollments",
                                {"course_id": course, "page_size": ENROLLMENT_PAGE},
                                EnrollmentPage, "enrollment/v1/enrollments"):
            enrolled.update((e.user, e.is_active) for e in page.results)  # a repeated page is harmless
        grades = self._grades(course)
        completion = self._completion(course, state)
        accounts = self._accounts([u for u in enrolled if u not in known or not known[u].email],
                                  state)
        for user, acc in accounts.items():  # later courses of this run need not ask again
            known[user] = replace(known.get(user) or Identity(self.source_id, user),
                                  email=acc.email, fullname=acc.name)
        holding = state.holding(course, FactKind.certificate)
        last = state.watermarks(course, "sig:")
        passed_at = state.watermarks(course, "passed:")
        now = datetime.now(UTC)
        identities, facts, marks, waiting = [], [], [], []
        for user, active in sorted(enrolled.items()):
            g, done, mine = grades.get(user), completion.get(user), known.get(user)
            identities.append(Identity(
                source=self.source_id, external_id=user, username=user,
                email=mine.email if mine else None, fullname=mine.fullname if mine else None,
                lang=(mine.lang if mine else None) or self.config.default_lang))
            if g and g.passed and user not in holding:
                since = passed_at.get(f"passed:{user}")
                if since is None:
                    since = now.isoformat()
                    marks.append(self._mark(course, f"passed:{user}", since))
                if now - datetime.fromisoformat(since) <= self.config.certificate_wait:
                    waiting.append(user)
            sig = f"{int(active)}|{g.percent if g else ''}|{int(g.passed) if g else ''}|{done}"
            if last.get(f"sig:{user}") == sig:
                continue
            facts.extend(self._learner_facts(user, course, active, g, done))
            marks.append(self._mark(course, f"sig:{user}", sig))
        # a certificate read that failed is asked again next run: no watermark depends on it
        certs, _ = self._each(self._certificate, course,
                              waiting if self.config.certificates else [], state)
        moved = [m.stream[len("sig:"):] for m in marks if m.stream.startswith("sig:")]
        units, unread = self._each(self._units, course, moved if self.config.blocks else [], state)
        # a learner whose blocks could not be read keeps the old signature
        marks = [m for m in marks if not (m.stream.startswith("sig:")
                                          and m.stream[len("sig:"):] in unread)]
        return Batch(identities=identities, facts=facts + certs + units, watermarks=marks)

    def _mark(self, course: str, stream: str, value: str) -> Watermark:
        return Watermark(source=self.source_id, course=course, stream=stream, value=value)

    def fact(self, user: str, kind: FactKind, course: str, value: float, status: str, *,
             item: str = "", occurred_at: datetime | None = None,
             attrs: dict[str, Any] | None = None) -> Fact:
        names = {"course_name": self._course_names.get(course, "")}
        return Fact(source=self.source_id, external_id=user, kind=kind, course=course, item=item,
                    value=value, status=status, occurred_at=occurred_at,
                    attrs={**{k: v for k, v in names.items() if v}, **(attrs or {})})

    def course_completion_fact(self, user: str, course: str, percent: float) -> Fact:
        done = percent >= 1.0
        return self.fact(user, FactKind.course_completion, course, 1.0 if done else 0.0,
                         "complete" if done else "incomplete", attrs={"percent": percent})

    def _learner_facts(self, user: str, course: str, active: bool, grade: Any,
                       done: float | None) -> list[Fact]:
        facts = [self.fact(user, FactKind.enrolment, course, 1.0 if active else 0.0,
                           "enrolled" if active else "inactive")]
        if grade:
            facts.append(self.fact(user, FactKind.grade, course, grade.percent,
                                   "passed" if grade.passed else "failed"))
        if done is not None:
            facts.append(self.course_completion_fact(user, course, done))
        return facts

    def _grades(self, course: str) -> dict[str, Any]:
        try:
            return {g.username: g for page in self._pages(
                f"/api/grades/v1/courses/{quote(course, safe='')}/",
                {"page_size": self.config.page_size}, GradePage, "grades/v1/courses")
                for g in page.results}
        except PermanentSourceError as exc:
            if exc.status == 404 and not is_page_not_found(exc):
                raise PermanentSourceError(
                    f"course {course} is not on this LMS ({exc.detail})", source=self.source_id,
                    endpoint=exc.endpoint, status=404,
                    fix=f"check the course key in sources.{self.source_id}.courses") from None
            raise

    def _completion(self, course: str, state: SourceState) -> dict[str, float]:
        """Course completion percent per username, if the completion-aggregator answers."""
        if not self._aggregator:
            return {}
        try:
            return {a.username: a.completion.percent for page in self._pages(
                f"/{AGGREGATOR}/{quote(course, safe='')}/",
                {"requested_fields": "username", "page_size": self.config.page_size},
                AggregatorPage, AGGREGATOR, next_of=lambda p: p.pagination.next)
                for a in page.results}
        except PermanentSourceError as exc:
            if not is_page_not_found(exc):
                raise  # a JSON 404 is about the course key, not the plugin
            self._aggregator = False
            need = NEEDS["aggregator"]
            state.warn(FixableSourceError(
                f"{need.name} is not installed: no course completion from this source",
                source=self.source_id, endpoint=exc.endpoint, status=404, fix=need.fix))
            return {}

    def course_completion_of(self, course: str, user: str) -> float | None:
        """One learner's course completion from the aggregator (recalculated on read)."""
        if not self._aggregator:
            return None
        url = (f"{self.config.url}/{AGGREGATOR}/{quote(course, safe='')}/?"
               f"{urlencode({'username': user, 'requested_fields': 'username'})}")
        page = self.get(url, AggregatorPage, AGGREGATOR)
        return next((a.completion.percent for a in page.results if a.username == user), None)

    def _accounts(self, usernames: list[str], state: SourceState) -> dict[str, Account]:
        """Emails and names (a global-staff reader sees them; the grades list hides them)."""
        out: dict[str, Account] = {}
        for i in range(0, len(usernames), ACCOUNTS_BATCH):
            url = f"{self.config.url}/api/user/v1/accounts?" + urlencode(
                {"username": ",".join(usernames[i:i + ACCOUNTS_BATCH])})
            try:
                found = self.get(url, list[Account], "user/v1/accounts")
            except PermanentSourceError as exc:
                if exc.status == 404:
                    continue  # none of these users exists (any more)
                raise
            out.update((a.username, a) for a in found if a.email)
        return out

    def _each(self, read: Any, course: str, users: list[str],
              state: SourceState) -> tuple[list[Fact], set[str]]:
        """`read(course, user)` for each user in the bounded pool: facts, and who failed."""
        results = per_learner(self.config.parallel, lambda user: read(course, user), users)
        out: list[Fact] = []
        for r in results.values():
            if isinstance(r, SourceError):
                state.report(r)
            else:
                out += r
        return out, {u for u, r in results.items() if isinstance(r, SourceError)}

    def _certificate(self, course: str, user: str) -> list[Fact]:
        url = (f"{self.config.url}/api/certificates/v0/certificates/{quote(user, safe='')}"
               f"/courses/{quote(course, safe='')}/")
        try:
            cert = self.get(url, Certificate, "certificates/v0/certificates")
        except PermanentSourceError as exc:
            if exc.status == 404:
                return []  # passed, but no certificate (yet: it is generated asynchronously)
            raise
        ok = cert.status == "downloadable" and cert.is_passing
        when = datetime.fromisoformat(cert.created_date.replace("Z", "+00:00")) if cert.created_date else None
        return [self.fact(user, FactKind.certificate, course, 1.0 if ok else 0.0, cert.status,
                          occurred_at=when, attrs={"type": cert.certificate_type})]

    def _units(self, course: str, user: str) -> list[Fact]:
        """Completion of the configured blocks for one learner (one call)."""
        tree = self.blocks.learner(course, user)
        out = []
        for usage in self.config.blocks:
            value = tree[usage].completion if usage in tree else None
            if value is not None:
                done = value >= 1.0
                name = tree[usage].display_name
                out.append(self.fact(user, FactKind.activity_completion, course, 1.0 if done else 0.0,
                                     "complete" if done else "incomplete", item=usage,
                                     attrs={"item_name": name} if name else None))
        return out

    # -- push ---------------------------------------------------------------
    def push(self, attestation: Attestation) -> PushResult:
        """Target `block:<usage key>`: completion-batch, after checking the block, read back."""
        return push_block(self, attestation)
