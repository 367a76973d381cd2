"""What the Moodle connector needs of a site, declared once: the web-service functions it
calls, the capabilities each call checks, and which errorcode says which one is missing.

The connector reads it to know what a config needs, to turn Moodle's refusals into one line
naming the capability and its fix, and to notice what Moodle leaves out without a word; a
setup probe reads it to know which harmless read shows each capability (`proof`). Every row was
seen on Moodle 4.5.0 + mod_attendance 2024020500 with a token missing that one capability
(tests/fixtures/moodle-real-4.5.0/refusals, recorded by tests/real_moodle/record.py) unless it
names the server code it was read from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.i18n import N_
from connectors.moodle.config import MoodleConfig
from connectors.requirements import Requirement

__all__ = ["Capability", "Refusal", "Function", "CAPABILITIES", "FUNCTIONS", "GENERIC",
           "REQUIREMENTS", "needed_functions", "push_functions", "refusal", "grant",
           "target_refusal"]

ROLES = "Site administration › Users › Permissions › Define roles"
SERVICES = "Site administration › Server › Web services › External services"
TOKENS = "Site administration › Server › Web services › Manage tokens"


@dataclass(frozen=True)
class Capability:
    """A capability the token's role needs; `proof` is the harmless read whose answer shows
    it (None: only a write can tell); `silent`: without it Moodle leaves data out, no error."""

    name: str
    lost: str
    proof: str | None
    silent: bool = False


@dataclass(frozen=True)
class Refusal:
    """An errorcode a function answers when one of `capabilities` is missing."""

    capabilities: tuple[str, ...]
    means: str
    hint: str = ""  # a fix beyond granting the capabilities
    whole_course: bool = False  # nothing of the course can be read


@dataclass(frozen=True)
class Function:
    """A web-service function the connector calls, and how it says a capability is missing."""

    name: str
    use: str
    refusals: Mapping[str, Refusal] = field(default_factory=dict)
    plugin: str = ""  # the plugin that brings it, when not Moodle itself


CAPABILITIES: dict[str, Capability] = {c.name: c for c in (
    Capability("webservice/rest:use", N_("every call"), "core_webservice_get_site_info"),
    Capability("moodle/course:view", N_("every course the token user is not enrolled in"),
               "core_enrol_get_enrolled_users"),
    Capability("moodle/course:viewhiddencourses", N_("hidden courses"), "core_enrol_get_enrolled_users"),
    # Either one (or moodle/course:enrolreview) lets the roster through (course/lib.php).
    Capability("moodle/course:viewparticipants", N_("the roster"), "core_enrol_get_enrolled_users"),
    Capability("moodle/user:viewdetails", N_("the roster: learners are left out of it"),
               "core_enrol_get_enrolled_users", silent=True),
    Capability("moodle/site:viewuseridentity", N_("learners' emails"),
               "core_enrol_get_enrolled_users", silent=True),
    Capability("moodle/user:viewalldetails", N_("learners' language and username"),
               "core_user_get_users_by_field", silent=True),
    Capability("moodle/site:accessallgroups", N_("learners outside the token user's groups "
               "(courses in separate-groups mode)"), "core_enrol_get_enrolled_users", silent=True),
    Capability("report/completion:view", N_("course completion"),
               "core_completion_get_course_completion_status"),
    Capability("report/progress:view", N_("activity completion"),
               "core_completion_get_activities_completion_status"),
    Capability("gradereport/user:view", N_("grades"), "gradereport_user_get_grade_items"),
    Capability("moodle/grade:viewall", N_("grades"), "gradereport_user_get_grade_items"),
    Capability("mod/attendance:view", N_("attendance"), "mod_attendance_get_sessions"),
    # Reading sessions needs one of take/change/manage; writing a status needs take itself.
    Capability("mod/attendance:takeattendances", N_("attendance sessions and pushing attendance"), None),
    Capability("moodle/course:overridecompletion", N_("pushing completion"), None),
    Capability("moodle/reportbuilder:view", N_("the completion report"), "core_reportbuilder_retrieve_report"),
)}

_COURSE = Refusal(("moodle/course:view", "moodle/course:viewhiddencourses"),
                  "the token user cannot enter the course",
                  "or enrol the web-service user in the course; viewhiddencourses matters when "
                  "the course is hidden", whole_course=True)
_GROUPS = Refusal(("moodle/site:accessallgroups",), "the learner is in a group the token user "
                  "cannot see (completion/classes/external.php)")
_ATTENDANCE_SEE = Refusal(("mod/attendance:view", "moodle/course:view"), "the token user cannot "
                          "open the attendance activity or its course")
# Moodle 4.5.6 answered the same for an activity its role could not view ("Activity is hidden",
# tests/fixtures/moodle-real): the module's own view capability counts too.
_ACTIVITY = Refusal(("moodle/course:view", "mod/<module>:view"), "the token user cannot open the "
                    "course or the activity", "<module> being the activity's type, e.g. mod/page:view")
# mod_attendance throws invalid_parameter_exception for its own permission checks
# (mod/attendance/externallib.php): "Invalid parameter value detected" means a capability here.
_ATTENDANCE_READ = Refusal(("mod/attendance:takeattendances", "mod/attendance:changeattendances",
                            "mod/attendance:manageattendances"),
                           "the token user may not read attendance sessions (any one of these)")

FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("core_webservice_get_site_info", N_("checking the token and the service's functions"),
             {"accessexception": Refusal(("webservice/rest:use",), "the token user may not use "
                                         "the REST protocol", "and add this function to the service")}),
    Function("core_enrol_get_enrolled_users", N_("the roster"), {
        "errorcoursecontextnotvalid": _COURSE,
        "nopermissions": Refusal(("moodle/course:viewparticipants",), "the token user may not list "
                                 "participants", "or moodle/course:enrolreview")}),
    Function("core_user_get_users_by_field", N_("learners' language")),
    Function("core_completion_get_course_completion_status", N_("course completion"), {
        "requireloginerror": _COURSE,
        "cannotviewreport": Refusal(("report/completion:view",), "the token user cannot view "
                                    "the course completion report"),
        "accessdenied": _GROUPS}),
    Function("core_completion_get_activities_completion_status", N_("activity completion"), {
        "requireloginerror": _COURSE,
        "nopermissions": Refusal(("report/progress:view",), "the token user cannot view the "
                                 "activity completion report"),
        "accessdenied": _GROUPS}),
    Function("gradereport_user_get_grade_items", N_("grades"), {
        "requireloginerror": _COURSE,
        # The message names the capability: "(View user report)", "(View grades of other users)".
        "nopermissions": Refusal(("gradereport/user:view", "moodle/grade:viewall"),
                                 "the token user cannot view the grades of others"),
        "notingroup": _GROUPS}, "gradereport_user"),
    Function("core_course_get_contents", N_("finding the attendance activities"),
             {"errorcoursecontextnotvalid": _COURSE}),
    Function("core_course_get_courses", N_("listing courses when none is configured"),
             {"errorcoursecontextnotvalid": _COURSE}),
    Function("mod_attendance_get_sessions", N_("attendance sessions"), {
        "requireloginerror": _ATTENDANCE_SEE, "invalidparameter": _ATTENDANCE_READ},
        "mod_attendance"),
    Function("core_completion_override_activity_completion_status", N_("pushing completion"), {
        "requireloginerror": _ACTIVITY,
        # The message is the bare string key "error/nopermission" on 4.5.0.
        "nopermission": Refusal(("moodle/course:overridecompletion",), "the token user may not "
                                "override activity completion")}),
    Function("mod_attendance_get_session", N_("pushing attendance (reading the session)"), {
        "requireloginerror": _ATTENDANCE_SEE, "invalidparameter": _ATTENDANCE_READ},
        "mod_attendance"),
    Function("mod_attendance_update_user_status", N_("pushing attendance"), {
        "requireloginerror": _ATTENDANCE_SEE,
        "invalidparameter": Refusal(("mod/attendance:takeattendances",), "the token user may not "
                                    "take attendance")}, "mod_attendance"),
    Function("core_reportbuilder_retrieve_report", N_("the completion report"), {
        "errorreportview": Refusal(("moodle/reportbuilder:view",), "the token user cannot view "
                                   "the report", "and add the user (or its role) to the report's "
                                   "audience, or grant moodle/reportbuilder:viewall")}),
)}

# Answers any function can give, by errorcode -> (kind, what it means). Kinds: token, service,
# absent (function unknown to the site), learner (nothing to fix: not enrolled, suspended…),
# missing (course, activity, session), criteria, parameter.
GENERIC: dict[str, tuple[str, str]] = {
    "invalidtoken": ("token", "the token is not valid (expired, deleted or mistyped)"),
    "accessexception": ("service", "the function is not in the token's web service"),
    "servicerequireslogin": ("service", "the web service requires a login the token user lacks"),
    "usernotenroled": ("learner", "the learner is not enrolled (or not tracked) in this course"),
    "notenroled": ("learner", "the learner is not enrolled in this course"),
    "suspended": ("learner", "the learner's account is suspended"),
    "userdeleted": ("learner", "the learner's account was deleted"),
    "usernotconfirmed": ("learner", "the learner's account is not confirmed"),
    "invaliduser": ("learner", "the learner's account does not exist"),
    "invalidrecord": ("missing", "the course, activity or session does not exist on this site"),
    "invalidrecordunknown": ("missing", "the attendance activity does not exist on this site"),
    "invalidcoursemodule": ("missing", "the activity (cmid) does not exist on this site"),
    "completionnotenabled": ("missing", "completion tracking is not enabled for this course"),
    "nocriteriaset": ("criteria", "the course has no completion criteria"),
    "invalidparameter": ("parameter", "Moodle rejected a parameter"),
    "invalidextparam": ("parameter", "Moodle rejected an option name"),
}


def refusal(function: str, code: str) -> Refusal | None:
    """The capability refusal `code` stands for when `function` answers it, if it is one."""
    known = FUNCTIONS.get(function)
    return known.refusals.get(code) if known else None


def grant(capabilities: tuple[str, ...], user: str) -> str:
    """The fix for missing capabilities: what to grant, to whom, where."""
    what = capabilities[0] if len(capabilities) == 1 else " or ".join(capabilities)
    who = f"web-service user {user}" if user else "the token's web-service user"
    return f"grant {what} to the role of {who} ({ROLES})"


def needed_functions(config: MoodleConfig) -> dict[str, str]:
    """Function -> what it is for, for the features `config` turns on (reads and pushes)."""
    names = ["core_webservice_get_site_info", "core_enrol_get_enrolled_users",
             "core_user_get_users_by_field", "core_completion_get_course_completion_status"]
    if config.activities:
        names.append("core_completion_get_activities_completion_status")
    if config.grades:
        names.append("gradereport_user_get_grade_items")
    if config.attendance:
        names += ["core_course_get_contents", "mod_attendance_get_sessions"]
    if not config.courses:
        names.append("core_course_get_courses")
    if config.completion_report:
        names.append("core_reportbuilder_retrieve_report")
    return {n: FUNCTIONS[n].use for n in names}


def push_functions(target: str) -> list[str]:
    """The functions a push to `target` calls (read, write, read back)."""
    if target.startswith("completion:"):
        return ["core_completion_get_activities_completion_status",
                "core_completion_override_activity_completion_status",
                "core_completion_get_course_completion_status"]
    if target.startswith("attendance:"):
        return ["mod_attendance_get_session", "mod_attendance_update_user_status"]
    return []


def target_refusal(target: str, course: str) -> str | None:
    """Why a push route's target cannot work on a Moodle source (None if it can)."""
    kind, _, ident = target.partition(":")
    if kind not in ("completion", "attendance") or not ident.isdigit():
        return (f"a Moodle source takes completion:<cmid> or attendance:<sessionid>, not {target!r}")
    if not course.isdigit():
        return f"a Moodle course is its numeric id, not {course!r}"
    return None


def _requirements() -> tuple[Requirement, ...]:
    """The same knowledge as `connectors.requirements` entries, for a setup probe to walk."""
    caps = tuple(Requirement(
        f"capability:{c.name}", "capability", c.name, c.lost,
        f"{c.proof} answers without refusing{' and without leaving data out' if c.silent else ''}"
        if c.proof else "not verifiable without writing",
        grant((c.name,), "")) for c in CAPABILITIES.values())
    functions = tuple(Requirement(
        f"function:{f.name}", "function", f.name, f.use,
        "core_webservice_get_site_info lists it in `functions`",
        f"add {f.name} to the token's external service ({SERVICES} › Functions)"
        + (f"; it comes with {f.plugin}" if f.plugin.startswith("mod_") else ""),
        optional=f.name not in ("core_webservice_get_site_info", "core_enrol_get_enrolled_users",
                                "core_user_get_users_by_field",
                                "core_completion_get_course_completion_status"))
        for f in FUNCTIONS.values())
    return (Requirement("token", "credential", "web-service token", "pull, push",
                        "core_webservice_get_site_info answers without invalidtoken",
                        f"make a token for the web-service user ({TOKENS}) and set it as token"),
            *functions, *caps,
            Requirement("plugin:mod_attendance", "plugin", "mod_attendance", "attendance",
                        "core_webservice_get_site_info lists mod_attendance_* functions",
                        "install mod_attendance (moodle.org/plugins/mod_attendance)", optional=True),
            Requirement("completion_report", "report", "custom report of completed participants",
                        "completions made without learner activity, at the next run",
                        "core_reportbuilder_retrieve_report answers rows with user and course links",
                        "see docs/connectors.md, Completions no signal shows", optional=True))


REQUIREMENTS = _requirements()
