"""The FUN-MOOC connector: the instructor dashboard's reports the course team drops in
`reports_dir`, and, where FUN granted an API key, each reported learner's grade from the LMS.

Request bound of a run: none for the reports (local files; an unchanged kept file is skipped by
its sha256); with `api_key`, 1 grade read per learner of the course's last reports who is not
yet recorded as passed, at most `parallel` at once. Nothing is ever written to FUN.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from bridge.config import SourceConfig
from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, Fact, FactKind, Probe, PushResult, Watermark
from connectors.base import SourceState
from connectors.edx_common import API_KEY_HEADER, get_json, per_learner
from connectors.fun.config import FunConfig
from connectors.fun.payloads import FunGrade
from connectors.fun.reports import (
    Report,
    ReportRefused,
    course_of,
    digest,
    read_report,
    strip_email,
)
from connectors.fun.requirements import NEEDS, NO_PUSH, REQUIREMENTS
from connectors.http import HttpClient
from connectors.requirements import Requirement

__all__ = ["FunConnector"]

DAY = 86400
GRADES = "fun/api/grades"


class FunConnector:
    """Reads FUN-MOOC's reports; looks learners' grades up with FUN's API key."""

    kind: ClassVar[str] = "fun"
    config_model: ClassVar[type[SourceConfig]] = FunConfig
    requirements: ClassVar[tuple[Requirement, ...]] = REQUIREMENTS

    def __init__(self, source_id: str, config: FunConfig, *, http: HttpClient | None = None) -> None:
        self.source_id, self.config = source_id, config
        self.http = http or HttpClient.for_source(source_id, config)
        key = config.api_key.get_secret_value() if config.api_key else None
        self.http.auth = (lambda refresh: {API_KEY_HEADER: key}) if key else None

    @classmethod
    def push_target_refusal(cls, target: str, course: str) -> str | None:
        return NO_PUSH

    @property
    def requests(self) -> dict[str, int]:
        return dict(self.http.by_endpoint)

    def close(self) -> None:
        self.http.close()

    def check(self) -> list[str]:
        folder = self.config.reports_dir
        if folder is not None and not folder.is_dir():
            return [f"source {self.source_id}: reports_dir {folder} is not a folder — fix: "
                    f"{NEEDS['reports'].fix}"]
        return []

    def probes(self, pushed: Sequence[tuple[str, str]] = ()) -> list[Probe]:
        """What `badge-bridge doctor` checks: the API key, the reports folder."""
        from connectors.fun.doctor import FunProbes

        return FunProbes(self).probes()

    # -- reports ------------------------------------------------------------
    def files(self) -> list[Path]:
        folder = self.config.reports_dir
        return sorted(folder.glob("*.csv")) if folder is not None and folder.is_dir() else []

    def read(self, path: Path, course: str | None = None) -> Report:
        """One report file as a batch; ReportRefused (file:line: column …) if anything is wrong."""
        course = course or course_of(path, self.config.courses)
        if course is None:
            raise ReportRefused(str(path), [(1, "cannot tell which course this report is about: "
                                             "keep the dashboard's file name ({org}_{course}_"
                                             "{run}_grade_report_….csv) or give the course")],
                                source=self.source_id)
        if course not in self.config.courses:
            raise ReportRefused(str(path), [(1, f"course {course} is not in sources."
                                             f"{self.source_id}.courses")], source=self.source_id)
        try:
            return read_report(path, course, source=self.source_id, columns=self.config.columns,
                               default_lang=self.config.default_lang)
        except OSError as exc:
            raise PermanentSourceError(f"cannot read: {exc.strerror}", source=self.source_id,
                                       endpoint=path.name) from None

    def stamped(self, report: Report, path: Path) -> Batch:
        """The report's batch with its watermarks: the file's digest (an unchanged kept file is
        not read twice) and who passed (no grade look-up for them)."""
        return replace(report.batch, watermarks=[
            Watermark(source=self.source_id, course=report.course, stream=f"file:{path.name}",
                      value=digest(path))] + [
            Watermark(source=self.source_id, course=report.course, stream=f"passed:{user}",
                      value="report") for user in sorted(report.passed)])

    def settle(self, path: Path) -> bool:
        """After a successful import: delete the file, or keep it `report_retention_days` from
        now (its modification time becomes the import's). True if it was deleted."""
        if self.config.report_retention_days == 0:
            path.unlink(missing_ok=True)
            return True
        os.utime(path)
        return False

    def expired(self, path: Path) -> bool:
        """An imported file kept past its retention is deleted; True if it was."""
        if path.stat().st_mtime < time.time() - self.config.report_retention_days * DAY:
            path.unlink(missing_ok=True)
            return True
        return False

    def forget(self, email: str) -> int:
        """Erase a learner from the kept report files; the number of rows removed."""
        return sum(strip_email(path, email, self.config.columns) for path in self.files())

    # -- pull ---------------------------------------------------------------
    def pull(self, state: SourceState) -> Iterator[Batch]:
        dry = bool(getattr(state, "dry_run", False))  # a dry run neither deletes nor touches files
        for path in self.files():
            course = course_of(path, self.config.courses)
            if course and state.watermark(course, f"file:{path.name}") == digest(path):
                if not dry:
                    self.expired(path)  # kept after its import, unchanged since
                continue
            try:
                report = self.read(path, course)
            except ReportRefused as exc:
                for line, text in exc.problems:  # kept, and said again each run until fixed
                    state.report(SourceError(text, source=self.source_id,
                                             endpoint=f"{path.name}:{line}"))
                continue
            except SourceError as exc:
                state.report(exc)
                continue
            yield self.stamped(report, path)
            if not dry:
                self.settle(path)  # reached only once the batch is stored
        if self.config.api_key is not None:
            for course in self.config.courses:
                yield self._lookups(course, state)

    def _lookups(self, course: str, state: SourceState) -> Batch:
        """Each reported learner's grade, unless already recorded as passed."""
        passed = state.watermarks(course, "passed:")
        users = sorted(u for u in state.holding(course, FactKind.enrolment)
                       if f"passed:{u}" not in passed)
        # the first learner alone: a refused key is said once, not once per learner
        results = per_learner(1, lambda user: self._grade(course, user), users[:1])
        refused = [r for r in results.values() if isinstance(r, FixableSourceError)]
        if refused:
            state.report(refused[0])
            return Batch()
        results.update(per_learner(self.config.parallel, lambda user: self._grade(course, user),
                                   users[1:]))
        facts, marks = [], []
        for user, result in results.items():
            if isinstance(result, SourceError):
                state.report(result)
                continue
            facts.append(Fact(source=self.source_id, external_id=user, kind=FactKind.grade,
                              course=course, value=result.percent,
                              status="passed" if result.passed else "failed",
                              attrs={"letter": result.grade or ""}))
            if result.passed:
                marks.append(Watermark(source=self.source_id, course=course,
                                       stream=f"passed:{user}", value="lookup"))
        return Batch(facts=facts, watermarks=marks)

    def _grade(self, course: str, user: str) -> FunGrade:
        url = f"{self.config.url}/{GRADES}/{quote(course, safe='/:+')}/{quote(user, safe='')}/"
        try:
            grade: FunGrade = get_json(self.http, url, FunGrade, GRADES)
        except PermanentSourceError as exc:
            if exc.status in (401, 403):
                raise FixableSourceError(f"the API key is refused ({exc.detail})",
                                         source=self.source_id, endpoint=GRADES, status=exc.status,
                                         fix=NEEDS["api_key"].fix) from None
            raise
        return grade

    # -- push ---------------------------------------------------------------
    def push(self, attestation: Attestation) -> PushResult:
        raise PermanentSourceError(NO_PUSH, source=self.source_id, endpoint="push")
