"""Records what the real Moodle of the kit answers to every call the connector makes, with a full
token and with a token missing each capability, into tests/fixtures/moodle-real-4.5.0/.

    .venv/bin/python tests/real_moodle/record.py

Each file is {"call": {"function", "params"}, "dropped": [...], "answer": <body as received>}.
Parameters are symbolic ("$course", "$complete"…: see ROLES) so that the sandbox's fidelity
test can ask the sandbox the same question about its own course.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kit import Site, start  # noqa: E402

from connectors.moodle.client import encode_params  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "moodle-real-4.5.0"
ROLES = ("$course: the hybrid course · $hidden: a hidden course · $complete, $incomplete: "
         "learners of it · $stranger: a user enrolled in no course · $manual: its manual-completion "
         "activity · $untracked: an activity without completion tracking · $attendance, $session: "
         "its attendance instance and session · $present: the session's status P · $taker: a "
         "teacher · $report: the completion report")

READS: list[tuple[str, str, dict[str, Any]]] = [
    ("core_webservice_get_site_info", "", {}),
    ("core_enrol_get_enrolled_users", "", {"courseid": "$course", "options": [
        {"name": "userfields", "value": "id,username,fullname,email,lastcourseaccess,roles"},
        {"name": "limitfrom", "value": 0}, {"name": "limitnumber", "value": 1000},
        {"name": "sortby", "value": "id"}]}),
    ("core_user_get_users_by_field", "", {"field": "id", "values": ["$complete", "$incomplete"]}),
    ("core_completion_get_course_completion_status", "complete",
     {"courseid": "$course", "userid": "$complete"}),
    ("core_completion_get_course_completion_status", "incomplete",
     {"courseid": "$course", "userid": "$incomplete"}),
    ("core_completion_get_activities_completion_status", "complete",
     {"courseid": "$course", "userid": "$complete"}),
    ("core_completion_get_activities_completion_status", "incomplete",
     {"courseid": "$course", "userid": "$incomplete"}),
    ("gradereport_user_get_grade_items", "", {"courseid": "$course", "userid": 0}),
    ("core_course_get_contents", "attendance", {"courseid": "$course", "options": [
        {"name": "modname", "value": "attendance"}, {"name": "excludecontents", "value": 1}]}),
    ("core_course_get_contents", "cmid", {"courseid": "$course", "options": [
        {"name": "cmid", "value": "$untracked"}, {"name": "excludecontents", "value": 1}]}),
    ("core_course_get_courses", "", {"options": {"ids": ["$course"]}}),
    ("mod_attendance_get_sessions", "", {"attendanceid": "$attendance"}),
    ("mod_attendance_get_session", "", {"sessionid": "$session"}),
    ("core_reportbuilder_retrieve_report", "", {"reportid": "$report", "page": 0, "perpage": 1000}),
]
# Writes that change nothing: the incomplete learner's manual activity set to 0 again; their
# status in the session written as it already is.
WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("core_completion_override_activity_completion_status", "",
     {"userid": "$incomplete", "cmid": "$manual", "newstate": 0}),
    ("mod_attendance_update_user_status", "", {"sessionid": "$session", "studentid": "$complete",
                                               "takenbyid": "$taker", "statusid": "$present",
                                               "statusset": "$statusset"}),
]
ERRORS: list[tuple[str, str, dict[str, Any]]] = [
    ("core_completion_get_course_completion_status", "not_enrolled",
     {"courseid": "$course", "userid": "$stranger"}),
    ("core_completion_get_activities_completion_status", "not_enrolled",
     {"courseid": "$course", "userid": "$stranger"}),
    ("core_completion_get_course_completion_status", "no_course", {"courseid": 999999, "userid": "$complete"}),
    ("core_enrol_get_enrolled_users", "no_course", {"courseid": 999999}),
    ("core_completion_override_activity_completion_status", "no_cmid",
     {"userid": "$complete", "cmid": 999999, "newstate": 1}),
    ("core_completion_override_activity_completion_status", "untracked",
     {"userid": "$incomplete", "cmid": "$untracked", "newstate": 1}),
    ("mod_attendance_get_session", "no_session", {"sessionid": 999999}),
    ("mod_attendance_get_sessions", "no_attendance", {"attendanceid": 999999}),
    ("core_completion_get_course_completion_status", "courseid_not_int",
     {"courseid": "abc", "userid": "$complete"}),
    ("core_user_get_users_by_field", "bad_field", {"field": "shoesize", "values": ["1"]}),
    ("mod_attendance_get_sessions_v2", "unknown_function", {"attendanceid": "$attendance"}),
    ("core_reportbuilder_retrieve_report", "no_report", {"reportid": 999999}),
]
# Capabilities dropped together (one crippled token each), as docs/connectors.md lists them.
DROPS = [
    ["moodle/course:view"],
    ["moodle/course:viewparticipants", "moodle/site:viewparticipants", "moodle/course:enrolreview"],
    ["moodle/user:viewdetails"],
    ["moodle/site:viewuseridentity", "moodle/course:useremail"],
    ["moodle/user:viewalldetails"],
    ["report/completion:view"],
    ["report/progress:view"],
    ["gradereport/user:view"],
    ["moodle/grade:viewall"],
    ["mod/attendance:view"],
    ["mod/attendance:takeattendances", "mod/attendance:changeattendances",
     "mod/attendance:manageattendances"],
    ["mod/attendance:takeattendances"],
    ["moodle/course:overridecompletion"],
    ["moodle/reportbuilder:view", "moodle/reportbuilder:viewall"],
]


def resolve(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return ids[value]
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


def call(site: Site, token: str, function: str, params: dict[str, Any], ids: dict[str, Any]) -> Any:
    data = {"wstoken": token, "wsfunction": function, "moodlewsrestformat": "json",
            **encode_params(resolve(params, ids))}
    resp = requests.post(f"{site.url}/webservice/rest/server.php", data=data, timeout=60)
    return resp.json() if resp.content else None


def keys(obj: Any, path: str = "$") -> set[str]:
    """The key paths of a document and its lists' lengths (what a silent refusal takes away)."""
    out = {path}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= keys(v, f"{path}.{k}")
    elif isinstance(obj, list):
        out |= {f"{path}#{len(obj)}"} | {p for v in obj for p in keys(v, f"{path}[]")}
    return out


def save(folder: str, name: str, record: dict[str, Any]) -> None:
    path = OUT / folder / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def setup(site: Site) -> dict[str, Any]:
    course = site.course("BBREC1", learners=6, complete=0.5, online=0.34, seed=5)
    hidden = site.course("BBREC2", learners=2, complete=0.5, online=0.0, seed=5)
    site.op("visible", courseid=hidden["courseid"], visible=0)
    taker = site.op("teacher", courseid=course["courseid"])["userid"]
    site.op("grade", courseid=course["courseid"], userid=course["userids"]["complete"][0], grade=15)
    session = call(site, site.token, "mod_attendance_get_session", {"sessionid": course["sessionid"]}, {})
    full = site.connector()
    return {"$course": course["courseid"], "$hidden": hidden["courseid"],
            "$complete": course["userids"]["complete"][0],
            "$incomplete": course["userids"]["not_started"][0], "$stranger": full.site_info().userid,
            "$manual": course["cmids"]["meetup"], "$untracked": course["cmids"]["attendance"],
            "$attendance": course["attendanceid"], "$session": course["sessionid"],
            "$present": next(s["id"] for s in session["statuses"] if s["acronym"] == "P"),
            "$statusset": ",".join(str(s["id"]) for s in session["statuses"]), "$taker": taker,
            "$report": site.op("report", name="badge-bridge completions")["reportid"]}


def main() -> None:
    site = Site(start())
    ids = setup(site)
    for function, variant, params in READS + WRITES:
        save("reads", function + (f"__{variant}" if variant else ""),
             {"call": {"function": function, "params": params}, "dropped": [],
              "answer": call(site, site.token, function, params, ids)})
    for function, variant, params in ERRORS:
        save("errors", f"{function}__{variant}", {"call": {"function": function, "params": params},
                                                  "dropped": [], "answer": call(site, site.token,
                                                                               function, params, ids)})
    hidden = {"courseid": "$hidden"}
    for function in ("core_enrol_get_enrolled_users", "core_course_get_contents"):
        crippled = site.crippled("--drop-cap=moodle/course:viewhiddencourses")
        save("refusals", f"{function}__hidden_course", {
            "call": {"function": function, "params": hidden},
            "dropped": ["moodle/course:viewhiddencourses"],
            "answer": call(site, crippled, function, hidden, ids)})
    token = site.crippled("--drop-function=core_completion_get_course_completion_status")
    params = {"courseid": "$course", "userid": "$complete"}
    save("errors", "core_completion_get_course_completion_status__not_in_service", {
        "call": {"function": "core_completion_get_course_completion_status", "params": params},
        "dropped": [], "answer": call(site, token, "core_completion_get_course_completion_status",
                                      params, ids)})
    save("errors", "core_webservice_get_site_info__invalid_token", {
        "call": {"function": "core_webservice_get_site_info", "params": {}}, "dropped": [],
        "answer": call(site, "0" * 32, "core_webservice_get_site_info", {}, ids)})
    for dropped in DROPS:
        token = site.crippled("--drop-cap=" + ",".join(dropped))
        slug = "+".join(re.sub(r"[^a-z]+", "_", cap) for cap in dropped)
        for function, variant, params in READS + WRITES:
            full = call(site, site.token, function, params, ids)
            answer = call(site, token, function, params, ids)
            if answer == full or (keys(answer) == keys(full) and "errorcode" not in str(answer)[:200]):
                continue  # same answer, or the same fields with other values (times, tokens)
            save("refusals", f"{function}{'__' + variant if variant else ''}__{slug}",
                 {"call": {"function": function, "params": params}, "dropped": dropped,
                  "answer": answer})
    (OUT / "README.md").write_text(README.format(roles=ROLES), encoding="utf-8")


README = """# Answers recorded from the real Moodle of the kit

Moodle 4.5.0 (Build 20241007) + mod_attendance 2024020500, PHP 8.2 (`php -S`), PostgreSQL, REST,
served at http://127.0.0.1:8181; recorded by `tests/real_moodle/record.py` on the course it
builds with `examples/course.php` (6 learners: half complete, one online only, the rest not
started), a teacher, a manual grade, a hidden course and the completion report
(`tests/real_moodle/moodle_ops.php --op=report`).

- `reads/`: each call the connector makes, with the full token.
- `errors/`: refusals that are not about capabilities (not enrolled, no such course, activity,
  session or function, a bad parameter or token, a function not in the service).
- `refusals/`: each call whose answer changes when the token's role lacks the capabilities in
  `dropped` (an error, or fields left out without one). Calls that answer the same are not kept.

Each file: `{{"call": {{"function", "params"}}, "dropped": [...], "answer": <body as received>}}`.
Symbolic parameters: {roles}.

Not recordable with the kit: a token without `webservice/rest:use` (the kit's `start` refuses
it; it answered `accessexception` "Access control exception" to `core_webservice_get_site_info`).
"""

if __name__ == "__main__":
    main()
