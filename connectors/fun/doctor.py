"""What `badge-bridge doctor` asks of a FUN-MOOC source: the API key is accepted by the
per-learner grades endpoint (fun-apps grades_api: the key is checked before the learner is
looked up, so an unknown learner's 404 proves it), and the reports folder holds reports of the
expected kinds that parse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from bridge.i18n import N_, ngettext
from bridge.i18n import gettext as _
from bridge.model import Finding, FindingStatus, Probe
from connectors.fun.reports import ReportRefused

if TYPE_CHECKING:
    from connectors.fun.connector import FunConnector

__all__ = ["FunProbes", "PROBE_USER"]

OK, FAIL, WARN = FindingStatus.ok, FindingStatus.fail, FindingStatus.warn
PROBE_USER = "badge-bridge-probe"  # a username no LMS holds: the answer says only about the key
KINDS = {"grades": N_("grade report"), "profiles": N_("profile report")}


class FunProbes:
    def __init__(self, connector: FunConnector) -> None:
        self.conn, self.config, self.sid = connector, connector.config, connector.source_id

    def probes(self) -> list[Probe]:
        return [Probe("api_key", self.api_key), Probe("reports", self.reports)]

    def _f(self, status: FindingStatus, subject: str, detail: str = "", fix: str = "",
           feature: str = "") -> Finding:
        return Finding(status, subject, detail, fix, feature, self.sid)

    def api_key(self) -> Iterator[Finding]:
        if self.config.api_key is None:
            return
        from connectors.fun.connector import GRADES

        subject = _("API key")
        course = self.config.courses[0]
        try:
            self.conn._grade(course, PROBE_USER)
        except FixableSourceError as exc:  # 401/403
            yield self._f(FAIL, subject, _("refused by the grades endpoint (HTTP {status})").format(
                status=exc.status), _("ask FUN-MOOC for an API key for the course's grades and "
                                      "set sources.{source}.api_key").format(source=self.sid),
                _("per-learner grades"))
            return
        except PermanentSourceError as exc:
            if exc.status == 404 and getattr(exc, "body", None) is not None:  # a JSON 404
                yield self._f(OK, subject, _("accepted by {endpoint}").format(endpoint=GRADES))
            else:
                yield self._f(FAIL, subject, _("{url} does not serve the grades endpoint ({reason})")
                              .format(url=self.config.url, reason=exc.detail),
                              _("check sources.{source}.url").format(source=self.sid),
                              _("per-learner grades"))
            return
        except SourceError as exc:
            yield self._f(FAIL, subject, exc.detail, exc.fix or "", _("per-learner grades"))
            return
        yield self._f(OK, subject, _("accepted by {endpoint}").format(endpoint=GRADES))

    def reports(self) -> Iterator[Finding]:
        folder = self.config.reports_dir
        subject = _("reports folder")
        drop = _("a member of the course team downloads the grade report and the profile report "
                 "from the LMS's Instructor tab › Data Download and drops them in {folder}").format(
            folder=folder)
        if folder is None:
            if self.config.api_key is None:
                yield self._f(FAIL, subject, _("neither reports_dir nor api_key is set: nothing to "
                                               "read"), _("set sources.{source}.reports_dir").format(
                    source=self.sid), _("pull"))
            return
        if not folder.is_dir():
            yield self._f(FAIL, subject, _("{folder} is not a folder").format(folder=folder),
                          _("create it, or fix sources.{source}.reports_dir").format(source=self.sid),
                          _("pull"))
            return
        files = self.conn.files()
        if not files:
            yield self._f(WARN, subject, _("no report waiting in {folder} (imported ones are "
                                           "deleted)").format(folder=folder), drop)
            return
        seen: dict[str, set[str]] = {}
        for path in files:
            name = _("report {file}").format(file=path.name)
            try:
                report = self.conn.read(path)
            except ReportRefused as exc:
                yield self._f(FAIL, name, "; ".join(f"{line}: {text}" for line, text in
                                                    exc.problems[:3]),
                              _("download the report again from Data Download, unedited"), _("pull"))
                continue
            except SourceError as exc:
                yield self._f(FAIL, name, exc.detail, exc.fix or "", _("pull"))
                continue
            seen.setdefault(report.course, set()).add(report.kind)
            yield self._f(OK, name, ngettext("{kind} of course {course}, {rows} row",
                                             "{kind} of course {course}, {rows} rows",
                                             report.rows).format(
                kind=_(KINDS.get(report.kind, report.kind)), course=report.course, rows=report.rows))
        for course in self.config.courses:
            kinds = seen.get(course, set())
            if "grades" not in kinds:
                yield self._f(WARN, _("course {course}").format(course=course),
                              _("no grade report waiting: no enrolment, grade or certificate"),
                              drop)
