"""Moodle dialect: /webservice/rest/server.php with token, function dispatch, parameter
validation, Moodle's HTTP-200 error bodies and the XML default format."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from . import moodle_caps as caps
from . import moodle_fns as fns
from . import moodle_mods as mods
from . import moodle_reports as reports
from .moodle_fns import MoodleError, invalid_parameter, missing_record
from .wire import Request, Response, php_nested

if TYPE_CHECKING:
    from .server import SandboxPlatform

ENDPOINT = "/webservice/rest/server.php"
LOGIN = "/login/token.php"
SERVICE = "badge_bridge"
_INT = re.compile(r"-?\d+")


INVALID_TOKEN = ("core\\exception\\moodle_exception", "invalidtoken",
                 "Invalid token - token not found")
ACCESS = ("webservice_access_exception", "accessexception", "Access control exception")

# Parameter specs: "int" | "str" | ("list", spec) | ("struct", {name: (spec, required, default)})
Spec = Any
OPTIONS: Spec = ("list", ("struct", {"name": ("str", True, None), "value": ("str", True, None)}))


def _p(spec: Spec, required: bool = True, default: Any = None) -> tuple[Spec, bool, Any]:
    return (spec, required, default)


SIGNATURES: dict[str, dict[str, tuple[Spec, bool, Any]]] = {
    "core_webservice_get_site_info": {"serviceshortnames": _p(("list", "str"), False, [])},
    "core_course_get_courses": {
        "options": _p(("struct", {"ids": _p(("list", "int"), False, [])}), False, {})},
    "core_course_get_courses_by_field": {"field": _p("str", False, ""),
                                         "value": _p("str", False, "")},
    "core_course_get_contents": {"courseid": _p("int"), "options": _p(OPTIONS, False, [])},
    "core_enrol_get_enrolled_users": {"courseid": _p("int"), "options": _p(OPTIONS, False, [])},
    "core_user_get_users_by_field": {"field": _p("str"), "values": _p(("list", "str"))},
    "core_completion_get_course_completion_status": {"courseid": _p("int"),
                                                     "userid": _p("int")},
    "core_completion_get_activities_completion_status": {"courseid": _p("int"),
                                                         "userid": _p("int")},
    "core_completion_override_activity_completion_status": {
        "userid": _p("int"), "cmid": _p("int"), "newstate": _p("int")},
    "gradereport_user_get_grade_items": {"courseid": _p("int"), "userid": _p("int", False, 0),
                                         "groupid": _p("int", False, 0)},
    "mod_attendance_get_sessions": {"attendanceid": _p("int")},
    "mod_attendance_get_session": {"sessionid": _p("int")},
    "mod_attendance_add_session": {
        "attendanceid": _p("int"), "sessiontime": _p("int"), "description": _p("str", False, ""),
        "duration": _p("int", False, 0), "groupid": _p("int", False, 0),
        "addcalendarevent": _p("int", False, 1)},
    "mod_attendance_update_user_status": {
        "sessionid": _p("int"), "studentid": _p("int"), "takenbyid": _p("int"),
        "statusid": _p("int"), "statusset": _p("str")},
    "mod_attendance_get_courses_with_today_sessions": {"userid": _p("int", False, 0)},
    "core_reportbuilder_retrieve_report": {"reportid": _p("int"), "page": _p("int", False, 0),
                                           "perpage": _p("int", False, 10)},
}

HANDLERS: dict[str, Callable[..., Any]] = {
    "core_webservice_get_site_info": fns.site_info,
    "core_course_get_courses": fns.get_courses,
    "core_course_get_courses_by_field": fns.get_courses_by_field,
    "core_course_get_contents": fns.get_contents,
    "core_enrol_get_enrolled_users": fns.enrolled_users,
    "core_user_get_users_by_field": fns.users_by_field,
    "core_completion_get_course_completion_status": fns.course_completion,
    "core_completion_get_activities_completion_status": fns.activities_completion,
    "core_completion_override_activity_completion_status": fns.override_completion,
    "gradereport_user_get_grade_items": mods.grade_items,
    "mod_attendance_get_sessions": mods.att_sessions,
    "mod_attendance_get_session": mods.att_session,
    "mod_attendance_add_session": mods.att_add_session,
    "mod_attendance_update_user_status": mods.att_update_status,
    "mod_attendance_get_courses_with_today_sessions": mods.att_today,
    "core_reportbuilder_retrieve_report": reports.retrieve_report,
}
# Real Moodle functions this sandbox's service does not include: accessexception.
NOT_IN_SERVICE = {
    "core_badges_get_user_badges", "core_user_get_users", "core_user_create_users",
    "enrol_manual_enrol_users", "enrol_manual_unenrol_users", "core_course_get_updates_since",
    "core_course_check_updates", "core_completion_update_activity_completion_status_manually",
    "core_completion_mark_course_self_completed", "mod_attendance_add_attendance",
    "mod_attendance_remove_attendance", "mod_attendance_remove_session",
    "core_enrol_get_users_courses", "core_grades_get_gradeitems", "core_user_get_course_user_profiles",
}
PUSHES = {"core_completion_override_activity_completion_status",
          "mod_attendance_update_user_status", "mod_attendance_add_session"}
ALL_FUNCTIONS = list(SIGNATURES)


def validate(spec: Spec, value: Any) -> Any:
    if spec == "int":
        if not isinstance(value, str) or not _INT.fullmatch(value.strip()):
            raise invalid_parameter()
        return int(value)
    if spec == "str":
        if not isinstance(value, str):
            raise invalid_parameter()
        return value
    kind, inner = spec
    if kind == "list":
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise invalid_parameter()
        return [validate(inner, value[k]) for k in sorted(value, key=int)]
    if not isinstance(value, dict):
        raise invalid_parameter()
    return validate_struct(inner, value)


def validate_struct(fields: dict[str, tuple[Spec, bool, Any]], given: dict[str, Any]) -> dict:
    if set(given) - set(fields):
        raise invalid_parameter()
    out = {}
    for name, (spec, required, default) in fields.items():
        if name in given:
            out[name] = validate(spec, given[name])
        elif required:
            raise invalid_parameter()
        else:
            out[name] = default
    return out


def handle(platform: SandboxPlatform, req: Request) -> Response:
    params = php_nested([*req.query.items(), *req.form])
    fmt = params.pop("moodlewsrestformat", "xml")
    fmt = fmt if isinstance(fmt, str) else "xml"
    token, function = params.pop("wstoken", None), params.pop("wsfunction", "")
    function = function if isinstance(function, str) else ""
    resp = Response()
    try:
        if token != platform.token:
            raise MoodleError(*INVALID_TOKEN)
        if function not in SIGNATURES and function not in NOT_IN_SERVICE:
            raise missing_record("external_functions")
        if function in platform.missing_functions or function in NOT_IN_SERVICE:
            raise MoodleError(*ACCESS)
        args = validate_struct(SIGNATURES[function], params)
        with platform.lock:
            courseid = _course_of(platform, args)
            refused = caps.refusal(platform, function, courseid) if courseid is not None else None
            if refused is not None:
                raise refused
            resp.payload = caps.trim(platform, function, HANDLERS[function](platform, **args))
        if function == "core_enrol_get_enrolled_users":
            resp.offset_paged = any(o["name"] == "limitnumber" for o in args["options"])
        resp.rows_key = fns.ROWS_KEY.get(function)
    except MoodleError as err:
        resp.payload = err.body
    if fmt != "json":
        resp.raw = to_xml(resp.payload)
        resp.content_type = "application/xml; charset=utf-8"
    return resp


def _course_of(p: SandboxPlatform, args: dict[str, Any]) -> int | None:
    """The course a call is about, for the capability checks; None when what it names does not
    exist (Moodle looks records up before it checks capabilities: the handler says not found)."""
    w = p.world
    if "courseid" in args:
        return args["courseid"] if w.course(args["courseid"]) else None
    if "sessionid" in args:
        found = w.session(args["sessionid"])
        return found[0].id if found else None
    if "attendanceid" in args:
        return next((c.id for c in w.courses if c.attendance_id == args["attendanceid"]), None)
    if "cmid" in args:
        owner = w.course_of_cmid(args["cmid"])
        return owner[0].id if owner else None
    if "options" in args and isinstance(args["options"], dict):  # core_course_get_courses
        return (args["options"].get("ids") or [w.courses[0].id])[0]
    return 0


def login(platform: SandboxPlatform, req: Request) -> Response:
    """`login/token.php`: its errors have another shape than the web-service ones."""
    form = {**req.query, **dict(req.form)}
    su = platform.world.service_user
    if form.get("username") == su.username and form.get("password") == platform.password \
            and form.get("service") == SERVICE:
        return Response(payload={"token": platform.token, "privatetoken": None})
    return Response(payload={"error": "Invalid login, please try again",
                             "errorcode": "invalidlogin", "stacktrace": None,
                             "debuginfo": None, "reproductionlink": None})


def _xml_value(value: Any) -> str:
    if value is None:
        return '<VALUE null="null"/>\n'
    if isinstance(value, dict):
        keys = "".join(f"<KEY name={quoteattr(k)}>{_xml_value(v)}</KEY>\n"
                       for k, v in value.items())
        return f"<SINGLE>\n{keys}</SINGLE>\n"
    if isinstance(value, list):
        return "<MULTIPLE>\n" + "".join(_xml_value(v) for v in value) + "</MULTIPLE>\n"
    if isinstance(value, bool):
        value = int(value)
    return f"<VALUE>{escape(str(value))}</VALUE>\n"


def to_xml(payload: Any) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8" ?>\n'
    if isinstance(payload, dict) and "exception" in payload and "errorcode" in payload:
        body = (f"<EXCEPTION class={quoteattr(payload['exception'])}>\n"
                f"<ERRORCODE>{escape(payload['errorcode'])}</ERRORCODE>\n"
                f"<MESSAGE>{escape(payload['message'])}</MESSAGE>\n</EXCEPTION>\n")
    else:
        body = "<RESPONSE>\n" + ("" if payload is None else _xml_value(payload)) + "</RESPONSE>\n"
    return (head + body).encode()
