"""The Open edX connector, serving both `openedx` and `fun` (FUN-MOOC's defaults) by configuration.

Request bound of a run: 1 token (renewed ~60 s before it expires), then per course run
ceil(E / page_size) enrollment pages + ceil(E / page_size) grade pages + ceil(E / 1000)
completion-aggregator pages (E = enrolled learners), ceil(new learners / 100) account
look-ups (language), 1 certificate call per learner who passed since the last run, and,
only when `blocks` is configured, 1 blocks call per learner whose signal moved.
A no-change run costs the three paged passes per course run and nothing per learner.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlencode

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator

from bridge.config import HttpSourceConfig, SourceConfig
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, Fact, FactKind, Identity, PushResult, Watermark
from connectors.base import SourceState
from connectors.http import HttpClient, PayloadError, follow_next
from connectors.openedx.auth import ClientCredentials
from connectors.openedx.payloads import (
    Account,
    AggregatorPage,
    Blocks,
    Certificate,
    EnrollmentPage,
    Grade,
    GradePage,
)
from connectors.push_route import PushRoute

__all__ = ["OpenEdxConfig", "FunConfig", "OpenEdxConnector", "FunConnector"]


class OpenEdxConfig(HttpSourceConfig):
    kind: Literal["openedx"] = "openedx"
    url: str = Field(description="the LMS base URL, e.g. https://lms.example.org")
    client_id: str = Field(description="OAuth2 client-credentials application of a global-staff user")
    client_secret: SecretStr
    api_key: SecretStr | None = Field(None, description="X-Edx-Api-Key instead of OAuth2 (older instances)")
    courses: list[str] = Field(min_length=1, description="course run keys, e.g. course-v1:ORG+NUM+RUN")
    # The platform's language for learners whose profile names none: any tag (de, pt-BR…); the
    # catalogs decide what it is shown in (bridge.i18n.negotiate).
    default_lang: str = "en"
    page_size: int = Field(100, ge=1, le=100)
    completion: bool = Field(True, description="read the completion-aggregator plugin if installed")
    certificates: bool = True
    blocks: list[str] = Field(default_factory=list, description="usage keys whose completion is read "
                              "per learner (e.g. the in-person unit); costs one call per changed learner")
    push: list[PushRoute] = Field(default_factory=list,
                                       description="presence push-back routes, see jobs.push")


class FunConfig(OpenEdxConfig):
    """FUN-MOOC: Open edX with FUN's base URL, French by default, `course-v1:` keys only."""

    kind: Literal["fun"] = "fun"  # type: ignore[assignment]
    url: str = "https://lms.fun-mooc.fr"
    default_lang: str = "fr"

    @field_validator("courses")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if not k.startswith("course-v1:") or k.count("+") != 2]
        if bad:
            raise ValueError(f"not a FUN course key (course-v1:ORG+NUMBER+RUN): {', '.join(bad)}")
        return v


class OpenEdxConnector:
    """Pulls enrollments, grades, completion and certificates from an Open edX LMS."""

    kind: ClassVar[str] = "openedx"
    config_model: ClassVar[type[SourceConfig]] = OpenEdxConfig

    def __init__(self, source_id: str, config: OpenEdxConfig, *, http: HttpClient | None = None) -> None:
        self.source_id, self.config = source_id, config
        self.http = http or HttpClient.for_source(source_id, config)
        self.http.auth = ClientCredentials(
            self.http, f"{config.url}/oauth2/access_token", config.client_id,
            config.client_secret.get_secret_value(),
            api_key=config.api_key.get_secret_value() if config.api_key else None)
        self._aggregator = config.completion

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.http.by_endpoint)

    def close(self) -> None:
        self.http.close()

    def _get(self, url: str, model: Any, endpoint: str) -> Any:
        adapter = TypeAdapter(model)

        def validate(payload: Any) -> Any:
            try:
                return adapter.validate_python(payload)
            except ValidationError as exc:
                err = exc.errors(include_url=False, include_input=False)[0]
                raise PayloadError(err["msg"], source=self.source_id, endpoint=endpoint,
                                   field=".".join(str(p) for p in err["loc"]) or "(body)") from None

        return self.http.request_json("GET", url, endpoint=endpoint, validate=validate)

    def _pages(self, path: str, params: dict[str, Any], model: Any, endpoint: str,
               next_of: Any = lambda p: p.next) -> Iterator[Any]:
        first = f"{self.config.url}{path}?{urlencode(params)}"
        return follow_next(lambda url: self._get(url, model, endpoint), first, source=self.source_id,
                           endpoint=endpoint, next_of=next_of)

    def check(self) -> list[str]:
        try:
            if self.http.auth:
                self.http.auth(True)
        except SourceError as exc:
            return [str(exc)]
        return []

    # -- pull ---------------------------------------------------------------
    def pull(self, state: SourceState) -> Iterator[Batch]:
        known = state.known_identities()
        for course in self.config.courses:
            try:
                yield self._pull_course(course, state, known)
            except SourceError as exc:
                state.report(exc)

    def _pull_course(self, course: str, state: SourceState, known: Mapping[str, Identity]) -> Batch:
        enrolled: dict[str, bool] = {}
        for page in self._pages("/api/enrollment/v1/enrollments",
                                {"course_id": course, "page_size": self.config.page_size},
                                EnrollmentPage, "enrollment/v1/enrollments"):
            enrolled.update((e.user, e.is_active) for e in page.results)  # a repeated page is harmless
        grades = {g.username: g for page in self._pages(
            f"/api/grades/v1/courses/{quote(course, safe='')}/", {"page_size": self.config.page_size},
            GradePage, "grades/v1/courses") for g in page.results}
        completion = self._completion(course, state)
        langs = self._languages([u for u in enrolled if u not in known])
        holding = state.holding(course, FactKind.certificate)
        last = state.watermarks(course, "sig:")
        identities, facts, marks, passed_now = [], [], [], []
        for user, active in sorted(enrolled.items()):
            g = grades.get(user)
            done = completion.get(user)
            identities.append(Identity(
                source=self.source_id, external_id=user, username=user,
                email=g.email if g else (known[user].email if user in known else None),
                lang=langs.get(user) or (known[user].lang if user in known else None)
                or self.config.default_lang))
            sig = f"{int(active)}|{g.percent if g else ''}|{int(g.passed) if g else ''}|{done}"
            if last.get(f"sig:{user}") == sig:
                continue
            facts.extend(self._learner_facts(user, course, active, g, done))
            if g and g.passed and user not in holding:
                passed_now.append(user)
            marks.append(Watermark(source=self.source_id, course=course, stream=f"sig:{user}", value=sig))
        certs, failed = self._per_learner(self._certificate, course,
                                          passed_now if self.config.certificates else [], state)
        moved = [m.stream[len("sig:"):] for m in marks]
        units, unread = self._per_learner(self._units, course, moved if self.config.blocks else [], state)
        # a learner whose certificate or units could not be read keeps the old signature
        marks = [m for m in marks if m.stream[len("sig:"):] not in failed | unread]
        return Batch(identities=identities, facts=facts + certs + units, watermarks=marks)

    def _learner_facts(self, user: str, course: str, active: bool, grade: Any,
                       done: float | None) -> list[Fact]:
        """Enrolment, grade and course completion of one learner, as the pull and the push see them."""
        facts = [self._fact(user, FactKind.enrolment, course, 1.0 if active else 0.0,
                            "enrolled" if active else "inactive")]
        if grade:
            facts.append(self._fact(user, FactKind.grade, course, grade.percent,
                                    "passed" if grade.passed else "failed"))
        if done is not None:
            facts.append(self._fact(user, FactKind.course_completion, course,
                                    1.0 if done >= 1.0 else 0.0,
                                    "complete" if done >= 1.0 else "incomplete", attrs={"percent": done}))
        return facts

    def _read_back(self, course: str, user: str) -> list[Fact]:
        """One learner's grade and completion after a push (two calls), so the pushed presence
        is counted without waiting for the next pull."""
        key = quote(course, safe="")
        grades = self._get(f"{self.config.url}/api/grades/v1/courses/{key}/?{urlencode({'username': user})}",
                           list[Grade], "grades/v1/courses")
        done = None
        if self._aggregator:
            page = self._get(f"{self.config.url}/completion-aggregator/v1/course/{key}/?"
                             f"{urlencode({'username': user, 'requested_fields': 'username'})}",
                             AggregatorPage, "completion-aggregator/v1/course")
            done = next((a.completion.percent for a in page.results if a.username == user), None)
        return self._learner_facts(user, course, True, grades[0] if grades else None, done)

    def _fact(self, user: str, kind: FactKind, course: str, value: float, status: str, *,
              item: str = "", occurred_at: datetime | None = None,
              attrs: dict[str, Any] | None = None) -> Fact:
        return Fact(source=self.source_id, external_id=user, kind=kind, course=course, item=item,
                    value=value, status=status, occurred_at=occurred_at, attrs=attrs or {})

    def _completion(self, course: str, state: SourceState) -> dict[str, float]:
        """Course completion percent per username, if the completion-aggregator plugin answers."""
        if not self._aggregator:
            return {}
        try:
            return {a.username: a.completion.percent for page in self._pages(
                f"/completion-aggregator/v1/course/{quote(course, safe='')}/",
                {"requested_fields": "username", "page_size": 1000}, AggregatorPage,
                "completion-aggregator/v1/course", next_of=lambda p: p.pagination.next)
                for a in page.results}
        except PermanentSourceError as exc:
            if exc.status != 404:
                raise
            self._aggregator = False  # reported once a run: the plugin is not installed
            state.report(PermanentSourceError(
                "completion-aggregator is not installed: no course completion from this source",
                source=self.source_id, endpoint=exc.endpoint, status=404))
            return {}

    def _languages(self, usernames: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(usernames), 100):
            url = f"{self.config.url}/api/user/v1/accounts?{urlencode({'username': ','.join(usernames[i:i + 100])})}"
            for acc in self._get(url, list[Account], "user/v1/accounts"):
                if acc.language_proficiencies:
                    out[acc.username] = acc.language_proficiencies[0].code
        return out

    def _per_learner(self, read: Any, course: str, users: list[str],
                     state: SourceState) -> tuple[list[Fact], set[str]]:
        """`read(course, user)` for each user in the bounded pool: facts, and who failed."""
        def one(user: str) -> list[Fact] | SourceError:
            try:
                return list(read(course, user))
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(self.config.parallel) as pool:
            results = dict(zip(users, pool.map(one, users), strict=True))
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
            cert = self._get(url, Certificate, "certificates/v0/certificates")
        except PermanentSourceError as exc:
            if exc.status == 404:
                return []  # passed, but no certificate (yet, or none configured)
            raise
        ok = cert.status == "downloadable" and cert.is_passing
        when = datetime.fromisoformat(cert.created_date.replace("Z", "+00:00")) if cert.created_date else None
        return [self._fact(user, FactKind.certificate, course, 1.0 if ok else 0.0, cert.status,
                           occurred_at=when, attrs={"type": cert.certificate_type})]

    def _units(self, course: str, user: str) -> list[Fact]:
        """Completion of the configured blocks (e.g. the in-person unit) for one learner."""
        out = []
        tree = self._tree(course, user)
        for block in self.config.blocks:
            value = tree[block].completion if block in tree else None
            if value is not None:
                done = value >= 1.0
                out.append(self._fact(user, FactKind.activity_completion, course, 1.0 if done else 0.0,
                                      "complete" if done else "incomplete", item=block))
        return out

    # -- push ---------------------------------------------------------------
    def _tree(self, course: str, user: str) -> dict[str, Any]:
        """The course's blocks with this learner's completion (one call)."""
        url = f"{self.config.url}/api/courses/v1/blocks/?" + urlencode({
            "course_id": course, "username": user, "depth": "all", "requested_fields": "completion"})
        return dict(self._get(url, Blocks, "courses/v1/blocks").blocks)

    def _block_completion(self, course: str, user: str, block: str) -> float | None:
        blocks = self._tree(course, user)
        return blocks[block].completion if block in blocks else None

    def push(self, attestation: Attestation) -> PushResult:
        """Target `block:<usage key>`: completion-batch, after checking it is not already done."""
        kind, _, block = attestation.target.partition(":")
        if kind != "block" or not block.startswith("block-v1:"):
            raise PermanentSourceError(f"unsupported push target {attestation.target!r}; expected "
                                       "block:<usage key>", source=self.source_id, endpoint="push")
        user, course = attestation.username or attestation.external_id, attestation.course
        if (self._block_completion(course, user, block) or 0.0) >= 1.0:
            return PushResult(accepted=True, reflected=True, message="already complete; nothing sent")
        body = self.http.request_json(
            "POST", f"{self.config.url}/api/completion/v1/completion-batch",
            endpoint="completion/v1/completion-batch", retries=0,
            json={"username": user, "course_key": course, "blocks": {block: 1.0}})
        after = self._block_completion(course, user, block)
        try:
            facts = self._read_back(course, user)
        except SourceError:
            facts = []  # the push itself succeeded; the next pull reads the learner anyway
        return PushResult(accepted=True, reflected=after is not None and after >= 1.0,
                          message=str(body.get("detail", "")) if isinstance(body, dict) else "",
                          response={"completion": after}, facts=facts)


class FunConnector(OpenEdxConnector):
    """FUN-MOOC: the same connector with FUN's defaults (see FunConfig)."""

    kind: ClassVar[str] = "fun"
    config_model: ClassVar[type[SourceConfig]] = FunConfig
