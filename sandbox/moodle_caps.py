"""The service user's capabilities: which ones each Moodle function checks, in Moodle's order,
what it answers without one, and what it leaves out without a word. As recorded on Moodle 4.5.0
+ mod_attendance 2024020500 (tests/fixtures/moodle-real-4.5.0/refusals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .moodle_fns import MoodleError, invalid_parameter

if TYPE_CHECKING:
    from .server import SandboxPlatform

ATTENDANCE_READ = ("mod/attendance:takeattendances", "mod/attendance:changeattendances",
                   "mod/attendance:manageattendances")


def _context(courseid: int) -> MoodleError:
    return MoodleError("core\\exception\\moodle_exception", "errorcoursecontextnotvalid",
                       f"You cannot execute functions in the course context (course id:{courseid}). "
                       "The context error message was: Course or activity not accessible.")


def _login(courseid: int) -> MoodleError:
    return MoodleError("core\\exception\\require_login_exception", "requireloginerror",
                       "Course or activity not accessible.")


def _nopermissions(name: str) -> Callable[[int], MoodleError]:
    return lambda courseid: MoodleError(
        "core\\exception\\required_capability_exception", "nopermissions",
        f"Sorry, but you do not currently have permissions to do that ({name}).")


def _fixed(exception: str, code: str, message: str) -> Callable[[int], MoodleError]:
    return lambda courseid: MoodleError(exception, code, message)


Check = tuple[tuple[str, ...], Callable[[int], MoodleError]]  # (any one of these lets it pass, error)
COURSE: Check = (("moodle/course:view",), _login)
CHECKS: dict[str, list[Check]] = {
    "core_enrol_get_enrolled_users": [
        (("moodle/course:view",), _context),
        (("moodle/course:viewparticipants", "moodle/site:viewparticipants",
          "moodle/course:enrolreview"), _nopermissions("View participants"))],
    "core_course_get_contents": [(("moodle/course:view",), _context)],
    "core_course_get_courses": [(("moodle/course:view",), _context)],
    "core_completion_get_course_completion_status": [
        COURSE, (("report/completion:view",), _fixed("core\\exception\\moodle_exception",
                                                     "cannotviewreport", "You cannot view this report"))],
    "core_completion_get_activities_completion_status": [
        COURSE, (("report/progress:view",), _nopermissions("View activity completion reports"))],
    "gradereport_user_get_grade_items": [
        COURSE, (("gradereport/user:view",), _nopermissions("View user report")),
        (("moodle/grade:viewall",), _nopermissions("View grades of other users"))],
    "mod_attendance_get_sessions": [COURSE, (("mod/attendance:view",), _login),
                                    (ATTENDANCE_READ, lambda c: invalid_parameter())],
    "mod_attendance_get_session": [COURSE, (("mod/attendance:view",), _login),
                                   (ATTENDANCE_READ, lambda c: invalid_parameter())],
    "mod_attendance_update_user_status": [
        COURSE, (("mod/attendance:view",), _login),
        (("mod/attendance:takeattendances",), lambda c: invalid_parameter())],
    "core_completion_override_activity_completion_status": [
        COURSE, (("moodle/course:overridecompletion",), _fixed(
            "core\\exception\\required_capability_exception", "nopermission", "error/nopermission"))],
    "core_reportbuilder_retrieve_report": [
        (("moodle/reportbuilder:view", "moodle/reportbuilder:viewall"), _fixed(
            "core_reportbuilder\\exception\\report_access_exception", "errorreportview",
            "You cannot view this report"))],
}


def refusal(p: SandboxPlatform, function: str, courseid: int) -> MoodleError | None:
    """The first check of `function` the service user fails, as Moodle answers it."""
    for alternatives, error in CHECKS.get(function, []):
        if all(cap in p.missing_capabilities for cap in alternatives):
            return error(courseid)
    return None


def _drop(rows: list[dict[str, Any]], *keys: str) -> None:
    for row in rows:
        for key in keys:
            row.pop(key, None)


def trim(p: SandboxPlatform, function: str, payload: Any) -> Any:
    """What Moodle leaves out of an answer when a capability is missing, without an error."""
    missing = p.missing_capabilities
    if function in ("core_enrol_get_enrolled_users", "core_user_get_users_by_field"):
        if "moodle/user:viewdetails" in missing:  # only course contacts (teachers) stay visible
            payload = [u for u in payload if function == "core_enrol_get_enrolled_users"
                       and u.get("roles", [{}])[0].get("shortname") == "editingteacher"]
        if {"moodle/site:viewuseridentity", "moodle/course:useremail"} <= missing:
            _drop(payload, "email")
        if "moodle/user:viewalldetails" in missing:
            _drop(payload, "username", "auth", "confirmed", "department", "lang", "mailformat",
                  "theme", "trackforums")
    if "mod/attendance:view" in missing and function == "core_course_get_contents":
        for section in payload:
            section["modules"] = [m for m in section["modules"] if m["modname"] != "attendance"]
    if "mod/attendance:view" in missing and function == "gradereport_user_get_grade_items":
        for user in payload["usergrades"]:
            user["gradeitems"] = [g for g in user["gradeitems"] if g["itemmodule"] != "attendance"]
    return payload
