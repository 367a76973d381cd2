"""The Moodle connector: roster, completion, grades, attendance; presence pushed back.

Request bound of a run: 1 (site info) + 1 (course list, only when none is configured) + 1
(course names) + ceil(completed participants / `report_page_size`) (only with
`completion_report`), then per course 1 (module names, when activities or grades are pulled) +
1 (grade report) + 1 (contents, for attendance instances) + 1 per attendance instance +
ceil(roster / `page_size`) roster pages + ceil(new learners / 100) language look-ups + 2 per
learner read (1 when the completion report says they are not complete). Who is read is in
`connectors.moodle.course`: a no-change run reads only the rolling re-check's share, about
(learners not complete) × (time since the last run) / `recheck`. What the connector needs of
the site, and what each refusal means, is in `connectors.moodle.needs`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

from bridge import logs
from bridge.config import SourceConfig
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import (
    Attestation,
    Batch,
    CourseSeen,
    FactKind,
    Probe,
    PushResult,
    SessionInfo,
)
from connectors.base import SourceState
from connectors.http import HttpClient
from connectors.moodle import needs
from connectors.moodle.client import MissingCapability, MoodleClient, NotInService
from connectors.moodle.config import MoodleConfig
from connectors.moodle.course import STATES, CoursePull, Read, Reads, read_learner
from connectors.moodle.detect import report_completions
from connectors.moodle.names import CourseNames, read_names
from connectors.moodle.payloads import Course, SiteInfo
from connectors.moodle.push import activity_state, push_attendance, push_completion
from connectors.moodle.signals import (
    CourseSignals,
    attendance_instances,
    course_sessions,
    read_signals,
)
from connectors.requirements import Requirement

__all__ = ["MoodleConnector", "MoodleConfig"]

# Without these a pull cannot start; without the others a part of the data is missing.
STATE_OF = {name: state for state, name in STATES.items()}
REQUIRED = ("core_enrol_get_enrolled_users", "core_user_get_users_by_field",
            "core_completion_get_course_completion_status")


def _keep(marks: Mapping[str, str]) -> Callable[[int, str], bool]:
    """Whose grade and presence facts a pull holds: those whose digest differs from their mark's
    (the others' facts are stored as they are)."""
    def keep(userid: int, digest: str) -> bool:
        mark = marks.get(f"access:{userid}")
        return mark is None or mark.split("|", 2)[1:2] != [digest]
    return keep


class Once:
    """Reports each problem once per run: the same refusal for every learner is one line.
    Called from the per-learner pool too, hence the lock."""

    def __init__(self, report: Callable[[SourceError], None]) -> None:
        self._report, self._seen, self._lock = report, set[tuple[object, ...]](), threading.Lock()

    def __call__(self, error: SourceError) -> None:
        caps = getattr(error, "capabilities", ())
        # one missing capability is one line, whichever call met it first
        key = (type(error), caps, error.detail) if caps else (type(error), error.endpoint, error.code,
                                                               error.detail)
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            self._report(error)


class MoodleConnector:
    """Pulls from a Moodle site through its REST web services."""

    kind: ClassVar[str] = "moodle"
    config_model: ClassVar[type[SourceConfig]] = MoodleConfig
    requirements: ClassVar[tuple[Requirement, ...]] = needs.REQUIREMENTS

    @classmethod
    def push_target_refusal(cls, target: str, course: str) -> str | None:
        """Why a push route's target cannot work on a Moodle source (None if it can)."""
        return needs.target_refusal(target, course)

    def __init__(self, source_id: str, config: MoodleConfig, *, http: HttpClient | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.source_id, self.config, self.clock = source_id, config, clock
        self.http = http or HttpClient.for_source(source_id, config)
        self.client = MoodleClient(self.http, config.url, config.token.get_secret_value())
        self._site: SiteInfo | None = None
        self._names: CourseNames | None = None  # read once a run (connectors.moodle.names)

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.http.by_endpoint)

    def close(self) -> None:
        self.http.close()

    # -- start-up -----------------------------------------------------------
    def site_info(self) -> SiteInfo:
        if self._site is None:
            self._site = self.client.call("core_webservice_get_site_info", SiteInfo)
            self.client.user = self._site.username
        return self._site

    def _has(self, function: str) -> bool:
        return function in {f.name for f in self.site_info().functions}

    def _not_in_service(self, functions: list[str], what: str) -> NotInService:
        return NotInService(f"{', '.join(functions)} not in the token's web service: no {what}",
                            source=self.source_id, endpoint="core_webservice_get_site_info",
                            code="accessexception", fix=f"add {', '.join(functions)} to the "
                            f"token's external service ({needs.SERVICES} › Functions)")

    def _missing(self) -> dict[str, str]:
        return {f: use for f, use in needs.needed_functions(self.config).items() if not self._has(f)}

    def check(self) -> list[str]:
        try:
            self.site_info()
        except SourceError as exc:
            return [str(exc)]
        return [str(self._not_in_service([f], use)) for f, use in self._missing().items()]

    def probes(self, pushed: Sequence[tuple[str, str]] = ()) -> list[Probe]:
        """What `badge-bridge doctor` asks the site, without changing anything; `pushed`: the
        (course, target) of the routes pushing presence to this source."""
        from connectors.moodle.doctor import MoodleProbes

        return MoodleProbes(self, pushed).probes()

    def discover(self, only: Sequence[str] = ()) -> list[CourseSeen]:
        """The courses the token sees (or those of `only`) and their in-person-looking
        activities, for `init`."""
        from connectors.moodle.doctor import discover

        return discover(self, only)

    def course_ids(self) -> list[str]:
        if self.config.courses:
            return list(self.config.courses)
        courses = self.client.call("core_course_get_courses", list[Course])
        return [str(c.id) for c in courses if c.id != 1]  # id 1 is the site front page

    # -- pull ---------------------------------------------------------------
    def pull(self, state: SourceState) -> Iterator[Batch]:
        self._site = None  # asked again each run: an administrator may have fixed the service
        self.site_info()
        missing = self._missing()
        required = sorted(f for f in missing if f in REQUIRED)
        if required:
            raise self._not_in_service(required, "pull")
        report = Once(state.report)
        for name, use in missing.items():  # reported once a run, then carry on without it
            report(self._not_in_service([name], use))
        completed = self._report_completions(report, missing)
        now = int(self.clock())
        shard = getattr(state, "courses", None)
        courses = [c for c in self.course_ids() if not shard or c in shard]
        self._names = names = self._read_names(courses)
        for course in courses:
            with logs.context(course=course):  # the lines logged for this course say so
                yield from self._pull_course(course, state, report, missing, completed, now, names)

    def _pull_course(self, course: str, state: SourceState, report: Once,
                     missing: dict[str, str], completed: dict[str, set[int]] | None,
                     now: int, names: CourseNames) -> Iterator[Batch]:
        """One course's batches; its failure is reported, the other courses carry on."""
        try:
            marks = state.watermarks(course, "access:")
            pull = CoursePull(self.client, self.config, course, state, report,
                              signals=self._signals(course, report, missing,
                                                    None if state.full else _keep(marks)),
                              completed=None if completed is None else completed.get(course, set()),
                              marks=marks, now=now)
            for batch in pull.batches():
                yield dataclasses.replace(batch, facts=names.named(batch.facts))
        except SourceError as exc:
            report(exc)

    def _read_names(self, courses: list[str]) -> CourseNames:
        return read_names(self.client, courses, can_list=self._has("core_course_get_courses"),
                          modules=self.config.activities or self.config.grades,
                          can_contents=self._has("core_course_get_contents"))

    def _report_completions(self, report: Once, missing: dict[str, str]) -> dict[str, set[int]] | None:
        """Completed participants per course from the report, or None (no report, or refused:
        then only the signals and the rolling re-check find completions)."""
        if not self.config.completion_report or "core_reportbuilder_retrieve_report" in missing:
            return None
        try:
            return report_completions(self.client, self.config.completion_report,
                                      self.config.report_page_size)
        except SourceError as exc:
            report(exc)
            return None

    def _signals(self, course: str, report: Once, missing: dict[str, str],
                 keep: Callable[[int, str], bool] | None = None) -> CourseSignals:
        """Grades and attendance of the whole course; a failure is reported, not fatal."""
        grades = self.config.grades and "gradereport_user_get_grade_items" not in missing
        instances: list[int] = []
        try:
            if self.config.attendance and not {"mod_attendance_get_sessions",
                                                "core_course_get_contents"} & set(missing):
                instances = attendance_instances(self.client, course)
            signals = read_signals(self.client, self.source_id, course, grades=grades,
                                   attendance=instances, present=set(self.config.present_statuses),
                                   tags=self.config.session_tags, keep=keep)
            for refused in signals.refused:  # records left out, each alone
                report(refused)
            return signals
        except MissingCapability as exc:
            if exc.whole_course:
                raise  # the roster would be refused the same way: one line for the course
            report(exc)
        except SourceError as exc:
            report(exc)
        return CourseSignals()

    def meetup_sessions(self, course: str) -> list[SessionInfo]:
        """A course's attendance sessions, for a meetups source to take check-ins at."""
        return course_sessions(self.client, self.source_id, course)

    # -- push ---------------------------------------------------------------
    def push(self, attestation: Attestation) -> PushResult:
        """Targets: `completion:<cmid>` (override) or `attendance:<sessionid>` (status P)."""
        kind, _, target = attestation.target.partition(":")
        missing = [f for f in needs.push_functions(attestation.target) if not self._has(f)]
        if missing:  # said before anything is asked: the push is kept until they are added
            raise self._not_in_service(missing, needs.FUNCTIONS[missing[0]].use)
        if kind == "completion" and target.isdigit():
            # The override may have completed the course: the learner is read back once, and
            # that read says whether the override holds (no separate read of the activity).
            # A part Moodle refuses is left out here; the pull reports it and reads again later.
            reads: list[Read | SourceError] = []

            def read_back() -> int | None:
                read = read_learner(self.client, self.config, attestation.course,
                                    int(attestation.external_id), Reads(), lambda refused: None)
                reads.append(read)
                states = {} if isinstance(read, SourceError) else {
                    f.item: STATE_OF[f.status] for f in read.facts
                    if f.kind is FactKind.activity_completion}
                if target in states:
                    return states[target]
                return activity_state(self.client, attestation.course, attestation.external_id,
                                      int(target))  # activities not read, or the read failed
            result = push_completion(self.client, self.source_id, attestation, int(target), read_back)
            read = reads[0] if reads else None
            if read is None or isinstance(read, SourceError):
                return result
            # named with this run's names when the pull read them; else the next pull names them
            facts = self._names.named(read.facts) if self._names else read.facts
            return dataclasses.replace(result, facts=facts)
        if kind == "attendance" and target.isdigit():
            taker = self.config.taker_id or self.site_info().userid
            return push_attendance(self.client, self.source_id, attestation, int(target), taker)
        raise PermanentSourceError(f"unsupported push target {attestation.target!r}; expected "
                                   "completion:<cmid> or attendance:<sessionid>",
                                   source=self.source_id, endpoint="push")

