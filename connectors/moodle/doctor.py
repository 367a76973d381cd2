"""What `badge-bridge doctor` asks a Moodle site, each question a read that changes nothing:
the token (site info), every function the configured features call in the token's service,
every capability they need, probed by the harmless read `needs.CAPABILITIES` names for it,
completion on each course, mod_attendance, each push target, and the completion report.

What no read can prove (the write capabilities) is said as a warning, named. Which errorcode
means which capability is `needs.FUNCTIONS`' knowledge, recorded on Moodle 4.5.0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bridge.errors import SourceError
from bridge.i18n import N_, ngettext
from bridge.i18n import gettext as _
from bridge.model import CourseSeen, Finding, FindingStatus, InPerson, Probe
from connectors.moodle import needs
from connectors.moodle.client import (
    FunctionAbsent,
    InvalidToken,
    MissingCapability,
    NoCriteria,
    NotFound,
)
from connectors.moodle.detect import PARTICIPANTS
from connectors.moodle.payloads import (
    AttendanceSession,
    Course,
    EnrolledUser,
    ReportPage,
    Section,
    SiteInfo,
    UserDetails,
)

if TYPE_CHECKING:
    from connectors.moodle import MoodleConnector

__all__ = ["MoodleProbes", "discover", "ROLES", "SERVICES", "TOKENS"]

# Moodle's own menu paths, as its English and French language packs word them.
ROLES = N_("Site administration › Users › Permissions › Define roles")
SERVICES = N_("Site administration › Server › Web services › External services")
TOKENS = N_("Site administration › Server › Web services › Manage tokens")
COURSE_COMPLETION = N_("Course › Settings › Completion tracking")
PROBE_USERS = 50  # roster rows read per course to find a learner to probe with

# Capabilities that another one stands in for: learners' emails come with either (Moodle 4.5
# answered with emails to a token missing only viewuseridentity); reading attendance sessions
# needs any one of take, change or manage (mod/attendance/externallib.php).
ANY_OF = {"moodle/site:viewuseridentity": ("moodle/site:viewuseridentity",
                                           "moodle/course:useremail"),
          "mod/attendance:takeattendances": ("mod/attendance:takeattendances",
                                             "mod/attendance:changeattendances",
                                             "mod/attendance:manageattendances")}

OK, FAIL, WARN = FindingStatus.ok, FindingStatus.fail, FindingStatus.warn


def _or(names: Sequence[str]) -> str:
    return _(" or ").join(names)


class MoodleProbes:
    """The probes of one Moodle source; they share what the first ones learnt (site info,
    a learner of each course). `pushed`: (course, target) of the routes pushing to it."""

    def __init__(self, connector: MoodleConnector, pushed: Sequence[tuple[str, str]] = ()) -> None:
        self.conn, self.config, self.client = connector, connector.config, connector.client
        self.sid = connector.source_id
        self.pushed = list(pushed)
        self.site: SiteInfo | None = None
        self.courses: list[str] = []
        self.learners: dict[str, int] = {}  # course -> a learner of it to read with
        self.refused: dict[str, list[str]] = {}  # capability -> what refused it
        self.proven: dict[str, str] = {}  # capability -> the read that showed it
        self.unproven: dict[str, str] = {}  # capability -> why it could not be read
        self.fixes: dict[str, tuple[str, ...]] = {}  # capability -> what granting any one fixes

    def probes(self) -> list[Probe]:
        return [Probe("site", self.token), Probe("functions", self.functions),
                Probe("courses", self.course_reads), Probe("attendance", self.attendance),
                Probe("capabilities", self.capabilities), Probe("report", self.report),
                Probe("pushes", self.pushes)]

    # -- helpers ------------------------------------------------------------
    def _f(self, status: FindingStatus, subject: str, detail: str = "", fix: str = "",
           feature: str = "") -> Finding:
        return Finding(status, subject, detail, fix, feature, self.sid)

    def _user(self) -> str:
        return self.site.username if self.site else ""

    def grant(self, capabilities: Sequence[str]) -> str:
        return _("grant {capability} to the role of web-service user {user} ({path})").format(
            capability=_or(capabilities), user=self._user() or "?", path=_(ROLES))

    def _has(self, function: str) -> bool:
        return self.site is not None and function in {f.name for f in self.site.functions}

    def _needed(self) -> dict[str, str]:
        """Function -> what it is for: the reads of the configured features, then the pushes."""
        out = dict(needs.needed_functions(self.config))
        for _course, target in self.pushed:
            for name in needs.push_functions(target):
                out.setdefault(name, needs.FUNCTIONS[name].use)
        return out

    def _call(self, function: str, model: Any = None, **params: Any) -> Any:
        return self.client.call(function, model, **params)

    def _refuse(self, exc: MissingCapability, course: str) -> None:
        caps = exc.capabilities
        if exc.endpoint == "gradereport_user_get_grade_items":  # the message names which one
            caps = tuple(c for c, label in (("gradereport/user:view", "View user report"),
                                            ("moodle/grade:viewall", "View grades of other users"))
                         if label in exc.detail) or caps
        caps = tuple(c for c in caps if c not in self.proven) or caps  # the others were shown
        for cap in caps:
            self.fixes.setdefault(cap, exc.capabilities)
            self.refused.setdefault(cap, []).append(
                _("{function} refused on course {course}: {reason}").format(
                    function=exc.endpoint, course=course, reason=exc.detail))

    def _prove(self, capabilities: Iterable[str], function: str, course: str) -> None:
        for cap in capabilities:
            self.proven.setdefault(cap, _("{function} answered on course {course}").format(
                function=function, course=course))

    # -- the probes ---------------------------------------------------------
    def token(self) -> Iterator[Finding]:
        subject = _("token and site")
        try:
            self.site = self.conn.site_info()
        except MissingCapability as exc:
            yield self._f(FAIL, subject, _("the token user may not use the REST protocol"),
                          self.grant(exc.capabilities), _("every call"))
            return
        except InvalidToken as exc:
            yield self._f(FAIL, subject, exc.detail, _(
                "make a token for the web-service user ({path}) and set it as sources.{source}.token")
                .format(path=_(TOKENS), source=self.sid), _("every call"))
            return
        except SourceError as exc:
            yield self._f(FAIL, subject, exc.detail, exc.fix or _(
                "check sources.{source}.url and that the site answers").format(source=self.sid),
                _("every call"))
            return
        yield self._f(OK, subject, _("{site} (Moodle {release}), web-service user {user}").format(
            site=self.site.sitename, release=self.site.release or "?", user=self.site.username))

    def functions(self) -> Iterator[Finding]:
        if self.site is None:
            return
        needed = self._needed()
        missing = {n: use for n, use in needed.items() if not self._has(n)}
        present = len(needed) - len(missing)
        if present:
            yield self._f(OK, _("functions"), ngettext(
                "{count} of the {total} function the configured features call is in the token's "
                "service", "{count} of the {total} functions the configured features call are in "
                "the token's service", len(needed)).format(count=present, total=len(needed)))
        for name, use in missing.items():
            plugin = needs.FUNCTIONS[name].plugin if name in needs.FUNCTIONS else ""
            fix = _("add {function} to the token's external service ({path} › Functions)").format(
                function=name, path=_(SERVICES))
            if plugin.startswith("mod_"):
                fix += _("; it comes with the plugin {plugin}").format(plugin=plugin)
            yield self._f(FAIL, _("function {function}").format(function=name),
                          _("not in the token's external service"), fix, _(use))
    def course_reads(self) -> Iterator[Finding]:
        """Each course exists, has completion on and criteria; the roster, emails, languages,
        completion, activities and grades read for one learner of it."""
        if self.site is None:
            return
        if self.config.courses:
            self.courses = list(self.config.courses)
        elif self._has("core_course_get_courses"):
            try:
                found = self._call("core_course_get_courses", list[Course])
            except SourceError as exc:
                yield self._f(FAIL, _("courses"), exc.detail, exc.fix or "")
                return
            self.courses = [str(c.id) for c in found if c.id != 1][:5]
        enabled = self._completion_enabled()
        for course in self.courses:
            yield from self._course(course, enabled)

    def _completion_enabled(self) -> dict[str, int | None] | None:
        """Course id -> its enablecompletion, for the courses the site knows; None if unread."""
        if not self._has("core_course_get_courses") or not self.courses:
            return None
        try:
            found = self._call("core_course_get_courses", list[Course],
                               options={"ids": [int(c) for c in self.courses if c.isdigit()]})
        except SourceError:
            return None
        return {str(c.id): c.enablecompletion for c in found}

    def _course(self, course: str, known: dict[str, int | None] | None) -> Iterator[Finding]:
        subject = _("course {course}").format(course=course)
        enabled = known or {}
        if known is not None and course not in known:
            yield self._f(FAIL, subject, _("no such course on this site, or hidden from the token "
                                           "user"), _("check sources.{source}.courses").format(
                source=self.sid))
            return
        if enabled.get(course) == 0:
            yield self._f(FAIL, subject, _("completion tracking is off for this course"),
                          _("turn it on in {path} (Enable completion tracking: Yes)").format(
                              path=_(COURSE_COMPLETION)), _("course completion"))
        users = self._roster(course)
        if isinstance(users, Finding):
            yield users
            return
        roles = set(self.config.learner_roles)
        learners = [u for u in users if not u.roles or {r.shortname for r in u.roles} & roles]
        if not learners:
            yield self._f(WARN, subject, _("no learner listed: nobody is enrolled with the roles "
                                           "{roles}, or the role lacks {capability}")
                          .format(roles=", ".join(sorted(roles)), capability="moodle/user:viewdetails"),
                          self.grant(["moodle/user:viewdetails"]), _("the roster"))
            self.unproven.setdefault("report/completion:view", _("no learner to read with"))
            return
        self._prove(["moodle/user:viewdetails"], "core_enrol_get_enrolled_users", course)
        without = [u for u in learners if "email" not in u.model_fields_set]
        if without:
            self.refused.setdefault("moodle/site:viewuseridentity", []).append(
                ngettext("{count} of {total} learner of course {course} came without their email",
                         "{count} of {total} learners of course {course} came without their email",
                         len(learners)).format(count=len(without), total=len(learners),
                                               course=course))
        else:
            self._prove(["moodle/site:viewuseridentity"], "core_enrol_get_enrolled_users", course)
        learner = learners[0].id
        self.learners[course] = learner
        yield self._f(OK, subject, _("exists, completion tracking on, roster read")
                      if enabled.get(course) == 1 else _("exists, roster read"))
        if enabled.get(course) != 0:
            yield from self._completion(course, learner, subject, known is not None)
        self._read("core_user_get_users_by_field", course, ["moodle/user:viewalldetails"],
                   list[UserDetails], field="id", values=[learner], check=self._has_lang)
        if self.config.activities:
            self._read("core_completion_get_activities_completion_status", course,
                       ["report/progress:view"], None, courseid=course, userid=learner)
        if self.config.grades:
            self._read("gradereport_user_get_grade_items", course,
                       ["gradereport/user:view", "moodle/grade:viewall"], None, courseid=course,
                       userid=learner)

    def _roster(self, course: str) -> list[EnrolledUser] | Finding:
        if not self._has("core_enrol_get_enrolled_users"):
            return []
        try:
            users: list[EnrolledUser] = self._call(
                "core_enrol_get_enrolled_users", list[EnrolledUser], courseid=course, options=[
                    {"name": "userfields", "value": "id,username,email,roles"},
                    {"name": "limitnumber", "value": PROBE_USERS}])
        except MissingCapability as exc:
            self._refuse(exc, course)
            return self._f(FAIL, _("course {course}").format(course=course),
                           _("the roster was refused"), self.grant(exc.capabilities), _("the roster"))
        except NotFound:
            return self._f(FAIL, _("course {course}").format(course=course),
                           _("no such course on this site"),
                           _("check sources.{source}.courses").format(source=self.sid))
        self._prove(["moodle/course:view", "moodle/course:viewparticipants"],
                    "core_enrol_get_enrolled_users", course)
        return users

    def _completion(self, course: str, learner: int, subject: str,
                    tracking_known: bool) -> Iterator[Finding]:
        """The course's completion for one learner. Moodle answers cannotviewreport too when the
        course does not track completion (completion_can_view_data, completion/classes/
        external.php): without the course list to tell, the line says both."""
        function = "core_completion_get_course_completion_status"
        if not self._has(function):
            return
        try:
            self._call(function, None, courseid=course, userid=learner)
        except NoCriteria:
            yield self._f(FAIL, subject, _("the course has no completion criteria"),
                          _("set them in Course › Course completion"), _("course completion"))
        except MissingCapability as exc:
            self._refuse(exc, course)
            if exc.code == "cannotviewreport" and not tracking_known:
                self.refused["report/completion:view"][-1] += _(
                    " (or completion tracking is off for this course)")
        except SourceError:
            pass  # this learner's own state (suspended…): not about the setup
        else:
            self._prove(["report/completion:view", "moodle/site:accessallgroups"], function, course)

    def _has_lang(self, users: list[UserDetails]) -> bool:
        return all(u.lang for u in users)

    def _read(self, function: str, course: str, capabilities: list[str], model: Any,
              check: Any = None, **params: Any) -> None:
        if not self._has(function):
            return
        try:
            answer = self._call(function, model, **params)
        except MissingCapability as exc:
            self._refuse(exc, course)
            return
        except SourceError:
            return
        if check is not None and not check(answer):
            for cap in capabilities:
                self.refused.setdefault(cap, []).append(
                    _("{function} left data out on course {course}").format(function=function,
                                                                          course=course))
            return
        self._prove(capabilities, function, course)

    def attendance(self) -> Iterator[Finding]:
        """mod_attendance is installed, and its sessions can be read on each course."""
        if self.site is None:
            return
        targets = [t for _c, t in self.pushed if t.startswith("attendance:")]
        if not (self.config.attendance or targets):
            return
        subject = _("plugin mod_attendance")
        present = any(f.name.startswith("mod_attendance_") for f in self.site.functions)
        if not present:
            try:
                self._call("mod_attendance_get_sessions", None, attendanceid=0)
                present = True
            except FunctionAbsent:
                status = FAIL if targets else WARN
                yield self._f(status, subject, _("not installed on the site"),
                              _("install mod_attendance (moodle.org/plugins/mod_attendance), or "
                                "set sources.{source}.attendance = false").format(source=self.sid),
                              _("attendance"))
                return
            except SourceError:
                present = True  # known to the site, refused for another reason
        yield self._f(OK, subject, _("installed"))
        if not (self._has("core_course_get_contents") and self._has("mod_attendance_get_sessions")):
            return
        for course in self.courses:
            try:
                sections = self._call("core_course_get_contents", list[Section], courseid=course,
                                      options=[{"name": "modname", "value": "attendance"},
                                               {"name": "excludecontents", "value": 1}])
            except MissingCapability as exc:
                self._refuse(exc, course)
                continue
            except SourceError:
                continue
            for module in (m for s in sections for m in s.modules if m.modname == "attendance"):
                try:
                    self._call("mod_attendance_get_sessions", None, attendanceid=module.instance)
                except MissingCapability as exc:
                    self._refuse(exc, course)
                except SourceError:
                    pass
                else:
                    self._prove(["mod/attendance:view", "mod/attendance:takeattendances"],
                                "mod_attendance_get_sessions", course)
                break

    def capabilities(self) -> Iterator[Finding]:
        """One line per capability the configured features need: refused, proven, or only a
        write could tell."""
        if self.site is None:
            return
        wanted = ["moodle/course:view", "moodle/course:viewparticipants", "moodle/user:viewdetails",
                  "moodle/site:viewuseridentity", "moodle/user:viewalldetails",
                  "report/completion:view", "moodle/site:accessallgroups"]
        if self.config.activities:
            wanted.append("report/progress:view")
        if self.config.grades:
            wanted += ["gradereport/user:view", "moodle/grade:viewall"]
        if self.config.attendance:
            wanted += ["mod/attendance:view", "mod/attendance:takeattendances"]
        if self.config.completion_report:
            wanted.append("moodle/reportbuilder:view")
        for cap in wanted:
            known = needs.CAPABILITIES[cap]
            subject = _("capability {capability}").format(capability=_or(ANY_OF.get(cap, (cap,))))
            if cap in self.refused:
                yield self._f(FAIL, subject, "; ".join(dict.fromkeys(self.refused[cap])),
                              self._fix(cap), _(known.lost))
            elif cap in self.proven:
                yield self._f(OK, subject, self.proven[cap], feature=_(known.lost))
            elif cap in self.unproven:
                yield self._f(WARN, subject, _("not verified: {reason}").format(
                    reason=self.unproven[cap]), feature=_(known.lost))
        writes = []
        if any(t.startswith("completion:") for _c, t in self.pushed):
            writes.append("moodle/course:overridecompletion")
        if any(t.startswith("attendance:") for _c, t in self.pushed):
            writes.append("mod/attendance:takeattendances")
        for cap in writes:
            yield self._f(WARN, _("capability {capability}").format(capability=cap),
                          _("not verifiable without writing"),
                          _("make sure the role of web-service user {user} has it ({path})").format(
                              user=self._user() or "?", path=_(ROLES)),
                          _(needs.CAPABILITIES[cap].lost))

    def _fix(self, cap: str) -> str:
        if cap == "moodle/site:viewuseridentity":
            return self.grant([cap, "moodle/course:useremail"])
        if cap == "moodle/reportbuilder:view":
            return self.grant([cap]) + _(", and add the user (or its role) to the report's "
                                         "audience, or grant {capability}").format(
                capability="moodle/reportbuilder:viewall")
        return self.grant(self.fixes.get(cap, (cap,)))

    def report(self) -> Iterator[Finding]:
        """How completions without a signal are found: the custom report, or the re-check."""
        if self.site is None:
            return
        subject = _("change detection")
        report_id = self.config.completion_report
        if not report_id:
            hours = int(self.config.recheck.total_seconds() // 3600)
            yield self._f(OK, subject, _("rolling re-check: every learner not yet complete is read "
                                         "again within {hours} h (no completion_report)").format(
                hours=hours))
            return
        function = "core_reportbuilder_retrieve_report"
        if not self._has(function):
            return  # said by the functions probe
        subject = _("completion report {report}").format(report=report_id)
        try:
            page: ReportPage = self._call(function, ReportPage, reportid=report_id, page=0, perpage=1)
        except MissingCapability as exc:
            self.refused.setdefault("moodle/reportbuilder:view", []).append(exc.detail)
            yield self._f(FAIL, subject, _("the report is refused to the token user"),
                          self._fix("moodle/reportbuilder:view"), _("change detection"))
            return
        except SourceError as exc:
            yield self._f(FAIL, subject, exc.detail, _("check sources.{source}.completion_report")
                          .format(source=self.sid), _("change detection"))
            return
        self.proven.setdefault("moodle/reportbuilder:view", _("{function} answered").format(
            function=function))
        conditions = json.loads(page.details.conditiondata or "{}")
        if page.details.source != PARTICIPANTS:
            yield self._f(FAIL, subject, _("it reads {kind}, not the participants of courses")
                          .format(kind=page.details.source), _("make it a custom report on the "
                                                               "'Course participants' source"),
                          _("change detection"))
        elif conditions.get("completion:completed_operator") != 1:
            yield self._f(FAIL, subject, _("it does not keep only completed participants"),
                          _("add the condition 'Completed' = Yes to the report"),
                          _("change detection"))
        else:
            rows = page.data.totalrowcount
            yield self._f(OK, subject, ngettext(
                "readable, on course participants, completed only ({rows} row)",
                "readable, on course participants, completed only ({rows} rows)", rows).format(
                rows=rows))

    def pushes(self) -> Iterator[Finding]:
        """Each push target exists, in its course, and is of a kind a push can set."""
        if self.site is None:
            return
        for course, target in self.pushed:
            kind, _sep, ident = target.partition(":")
            subject = _("push target {target}").format(target=target)
            if kind == "completion":
                yield self._activity(course, int(ident), subject)
            elif kind == "attendance":
                yield self._session(course, int(ident), subject)

    def _activity(self, course: str, cmid: int, subject: str) -> Finding:
        try:
            sections = self._call("core_course_get_contents", list[Section], courseid=course,
                                  options=[{"name": "excludecontents", "value": 1}])
        except SourceError as exc:
            return self._f(FAIL, subject, exc.detail, exc.fix or "", _("pushing completion"))
        module = next((m for s in sections for m in s.modules if m.id == cmid), None)
        if module is None:
            return self._f(FAIL, subject, _("no activity {cmid} in course {course}").format(
                cmid=cmid, course=course), _("push to an activity of the course (its cmid)"),
                _("pushing completion"))
        if module.completion != 1:
            return self._f(FAIL, subject, _("“{name}” is not a manual-completion activity").format(
                name=module.name), _("in its settings, set Completion tracking to “Students can "
                                     "manually mark the activity as completed”"),
                _("pushing completion"))
        return self._f(OK, subject, _("“{name}”, manual completion").format(name=module.name))

    def _session(self, course: str, session: int, subject: str) -> Finding:
        if not self._has("mod_attendance_get_session"):
            return self._f(WARN, subject, _("not verified: mod_attendance_get_session is not in "
                                            "the service"), feature=_("pushing attendance"))
        try:
            found: AttendanceSession = self._call("mod_attendance_get_session", AttendanceSession,
                                                  sessionid=session)
        except MissingCapability as exc:
            return self._f(FAIL, subject, exc.detail, self.grant(exc.capabilities),
                           _("pushing attendance"))
        except SourceError as exc:
            return self._f(FAIL, subject, exc.detail, _("push to an attendance session of the "
                                                        "course (its id)"), _("pushing attendance"))
        if found.courseid is not None and str(found.courseid) != course:
            return self._f(FAIL, subject, _("the session belongs to course {other}, not {course}")
                           .format(other=found.courseid, course=course),
                           _("push to a session of course {course}").format(course=course),
                           _("pushing attendance"))
        return self._f(OK, subject, _("attendance session of course {course}").format(course=course))


def discover(connector: MoodleConnector, only: Sequence[str] = (), limit: int = 50) -> list[CourseSeen]:
    """The courses the token sees (at most `limit`, or those of `only`) and their in-person-
    looking activities: attendance sessions and manual-completion activities (one contents read
    per course, one sessions read per attendance activity)."""
    client = connector.client
    courses = [c for c in client.call("core_course_get_courses", list[Course]) if c.id != 1
               and (not only or str(c.id) in only)]
    out = []
    for course in courses[:limit]:
        found: list[InPerson] = []
        try:
            sections = client.call("core_course_get_contents", list[Section], courseid=course.id,
                                   options=[{"name": "excludecontents", "value": 1}])
        except SourceError:
            sections = []
        for module in (m for s in sections for m in s.modules):
            if module.modname == "attendance":
                try:
                    sessions = client.call("mod_attendance_get_sessions", list[AttendanceSession],
                                           attendanceid=module.instance)
                except SourceError:
                    sessions = []
                found += [InPerson(f"attendance:{s.id}", _session_name(module.name, s),
                                   "attendance") for s in sessions]
            elif module.completion == 1:
                found.append(InPerson(f"completion:{module.id}", module.name, "manual"))
        out.append(CourseSeen(str(course.id), course.fullname,
                              None if course.enablecompletion is None else bool(course.enablecompletion),
                              found))
    return out


def _session_name(activity: str, session: AttendanceSession) -> str:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(session.sessdate, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{activity} — {when}"
