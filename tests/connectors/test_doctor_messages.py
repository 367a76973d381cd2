"""Each of `doctor`'s Moodle failure messages, without a network: the probes read the answers a
real Moodle 4.5.0 gave (tests/fixtures/moodle-real-4.5.0: `reads/` with a full token, `refusals/`
with one capability dropped, `errors/`), served by a stub; one ✗ (or ⚠) line each, with its fix.
Open edX and FUN messages are checked the same way on their recorded shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from bridge.model import Finding
from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.openedx.config import OpenEdxConfig
from connectors.openedx.connector import OpenEdxConnector
from jobs.doctor import run_probes

from .conftest import MOODLE_URL

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "moodle-real-4.5.0"
COURSE = "48"  # the recorded course


def answer(path: str) -> Any:
    return json.loads((REAL / f"{path}.json").read_text(encoding="utf-8"))["answer"]


READS: dict[str, Any] = {
    "core_webservice_get_site_info": answer("reads/core_webservice_get_site_info"),
    "core_course_get_courses": answer("reads/core_course_get_courses"),
    "core_enrol_get_enrolled_users": answer("reads/core_enrol_get_enrolled_users"),
    "core_user_get_users_by_field": answer("reads/core_user_get_users_by_field"),
    "core_completion_get_course_completion_status":
        answer("reads/core_completion_get_course_completion_status__complete"),
    "core_completion_get_activities_completion_status":
        answer("reads/core_completion_get_activities_completion_status__complete"),
    "gradereport_user_get_grade_items": answer("reads/gradereport_user_get_grade_items"),
    "core_course_get_contents": answer("reads/core_course_get_contents__attendance"),
    "mod_attendance_get_sessions": answer("reads/mod_attendance_get_sessions"),
    "mod_attendance_get_session": answer("reads/mod_attendance_get_session"),
    "core_reportbuilder_retrieve_report": answer("reads/core_reportbuilder_retrieve_report"),
}


def moodle(stub: Callable[..., Any], changes: dict[str, Any] | None = None,
           pushed: list[tuple[str, str]] = (), **config: Any) -> list[Finding]:  # type: ignore[assignment]
    table = {**READS, **(changes or {})}
    stub({fn: (lambda params, body=body: body) for fn, body in table.items()})
    cfg = MoodleConfig(url=MOODLE_URL, token=SecretStr("t0k3n"), courses=[COURSE], retries=0, **config)
    conn = MoodleConnector("campus", cfg, http=HttpClient("campus", retries=0, sleep=lambda s: None))
    return run_probes(conn.probes(pushed), "campus")


def problems(found: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.status.value, f.subject, f.detail, f.fix) for f in found if f.status.value != "ok"]


GRANT = "to the role of web-service user bbws (Site administration › Users › Permissions › Define roles)"


def test_the_recorded_full_token_passes(moodle_stub: Any) -> None:
    found = moodle(moodle_stub)
    assert problems(found) == []
    assert any(f.subject == f"course {COURSE}" for f in found)


@pytest.mark.parametrize("function, recorded, subject, detail", [
    ("core_completion_get_course_completion_status",
     "refusals/core_completion_get_course_completion_status__complete__report_completion_view",
     "capability report/completion:view",
     "core_completion_get_course_completion_status refused on course 48: the token user cannot "
     "view the course completion report (Moodle: You cannot view this report)"),
    ("core_completion_get_activities_completion_status",
     "refusals/core_completion_get_activities_completion_status__complete__report_progress_view",
     "capability report/progress:view",
     "core_completion_get_activities_completion_status refused on course 48: the token user "
     "cannot view the activity completion report (Moodle: Sorry, but you do not currently have "
     "permissions to do that (View activity completion reports).)"),
    ("gradereport_user_get_grade_items",
     "refusals/gradereport_user_get_grade_items__moodle_grade_viewall", "capability moodle/grade:viewall",
     "gradereport_user_get_grade_items refused on course 48: the token user cannot view the grades "
     "of others (Moodle: Sorry, but you do not currently have permissions to do that (View grades "
     "of other users).)"),
    ("gradereport_user_get_grade_items",
     "refusals/gradereport_user_get_grade_items__gradereport_user_view",
     "capability gradereport/user:view",
     "gradereport_user_get_grade_items refused on course 48: the token user cannot view the grades "
     "of others (Moodle: Sorry, but you do not currently have permissions to do that (View user "
     "report).)"),
    ("mod_attendance_get_sessions",
     "refusals/mod_attendance_get_sessions__mod_attendance_view", "capability mod/attendance:view",
     None),
    ("mod_attendance_get_sessions", "refusals/mod_attendance_get_sessions__mod_attendance_"
     "takeattendances+mod_attendance_changeattendances+mod_attendance_manageattendances",
     "capability mod/attendance:takeattendances or mod/attendance:changeattendances or "
     "mod/attendance:manageattendances", None),
])
def test_each_refused_capability_is_one_line(moodle_stub: Any, function: str, recorded: str,
                                             subject: str, detail: str | None) -> None:
    found = problems(moodle(moodle_stub, {function: answer(recorded)}))
    assert [(s, subj) for s, subj, _d, _f in found] == [("fail", subject)], found
    if detail is not None:
        assert found[0][2] == detail
    assert found[0][3].startswith("grant ") and found[0][3].endswith(GRANT)


def test_the_roster_refused_and_emails_left_out(moodle_stub: Any) -> None:
    refused = problems(moodle(moodle_stub, {"core_enrol_get_enrolled_users": answer(
        "refusals/core_enrol_get_enrolled_users__moodle_course_viewparticipants+moodle_site_"
        "viewparticipants+moodle_course_enrolreview")}))
    assert refused[0][:2] == ("fail", f"course {COURSE}") and refused[0][2] == "the roster was refused"
    assert refused[0][3] == f"grant moodle/course:viewparticipants {GRANT}"
    assert refused[1][:2] == ("fail", "capability moodle/course:viewparticipants")
    silent = problems(moodle(moodle_stub, {"core_enrol_get_enrolled_users": answer(
        "refusals/core_enrol_get_enrolled_users__moodle_site_viewuseridentity+moodle_course_useremail")}))
    assert silent == [("fail", "capability moodle/site:viewuseridentity or moodle/course:useremail",
                       "6 of 6 learners of course 48 came without their email",
                       f"grant moodle/site:viewuseridentity or moodle/course:useremail {GRANT}")]
    nobody = problems(moodle(moodle_stub, {"core_enrol_get_enrolled_users": []}))
    assert nobody[0] == ("warn", f"course {COURSE}", "no learner listed: nobody is enrolled with "
                         "the roles student, or the role lacks moodle/user:viewdetails",
                         f"grant moodle/user:viewdetails {GRANT}")
    languages = problems(moodle(moodle_stub, {"core_user_get_users_by_field": answer(
        "refusals/core_user_get_users_by_field__moodle_user_viewalldetails")}))
    assert [(s, subj) for s, subj, _d, _f in languages] == [
        ("fail", "capability moodle/user:viewalldetails")]


def test_the_token_the_service_and_the_plugin(moodle_stub: Any) -> None:
    bad = problems(moodle(moodle_stub, {"core_webservice_get_site_info": answer(
        "errors/core_webservice_get_site_info__invalid_token")}))
    assert bad == [("fail", "token and site", bad[0][2],
                    "make a token for the web-service user (Site administration › Server › Web "
                    "services › Manage tokens) and set it as sources.campus.token")]
    assert "the token is not valid" in bad[0][2]
    site = dict(READS["core_webservice_get_site_info"])
    site["functions"] = [f for f in site["functions"] if not f["name"].startswith("mod_attendance")]
    absent = answer("errors/mod_attendance_get_sessions_v2__unknown_function")
    found = problems(moodle(moodle_stub, {"core_webservice_get_site_info": site,
                                          "mod_attendance_get_sessions": absent}))
    assert found == [
        ("fail", "function mod_attendance_get_sessions", "not in the token's external service",
         "add mod_attendance_get_sessions to the token's external service (Site administration › "
         "Server › Web services › External services › Functions); it comes with the plugin "
         "mod_attendance"),
        ("warn", "plugin mod_attendance", "not installed on the site",
         "install mod_attendance (moodle.org/plugins/mod_attendance), or set "
         "sources.campus.attendance = false")]


def test_completion_off_no_criteria_no_course(moodle_stub: Any) -> None:
    off = [dict(c, enablecompletion=0) for c in READS["core_course_get_courses"]]
    found = problems(moodle(moodle_stub, {"core_course_get_courses": off}))
    assert found == [("fail", f"course {COURSE}", "completion tracking is off for this course",
                      "turn it on in Course › Settings › Completion tracking (Enable completion "
                      "tracking: Yes)")]
    criteria = {"exception": "moodle_exception", "errorcode": "nocriteriaset",
                "message": "No criteria set"}
    found = problems(moodle(moodle_stub, {"core_completion_get_course_completion_status": criteria}))
    assert found == [("fail", f"course {COURSE}", "the course has no completion criteria",
                      "set them in Course › Course completion")]
    found = problems(moodle(moodle_stub, {"core_course_get_courses": []}))
    assert found == [("fail", f"course {COURSE}", "no such course on this site, or hidden from the "
                      "token user", "check sources.campus.courses")]


def test_push_targets(moodle_stub: Any) -> None:
    contents = READS["core_course_get_contents"]
    modules = {m["modname"]: m for s in contents for m in s["modules"]}
    attendance = modules["attendance"]["id"]
    found = problems(moodle(moodle_stub, pushed=[
        (COURSE, f"completion:{attendance}"), (COURSE, "completion:999"),
        (COURSE, "attendance:47")], changes={"mod_attendance_get_session": answer(
            "errors/mod_attendance_get_session__no_session")}))
    targets = [f for f in found if f[1].startswith("push target")]
    assert targets[0][:3] == ("fail", f"push target completion:{attendance}",
                            f"“{modules['attendance']['name']}” is not a manual-completion activity")
    assert targets[1][:3] == ("fail", "push target completion:999", "no activity 999 in course 48")
    assert targets[2][:2] == ("fail", "push target attendance:47")
    assert targets[2][3] == "push to an attendance session of the course (its id)"
    assert ("warn", "capability moodle/course:overridecompletion", "not verifiable without writing",
            "make sure the role of web-service user bbws has it (Site administration › Users › "
            "Permissions › Define roles)") in found


def test_the_completion_report(moodle_stub: Any) -> None:
    refused = answer("refusals/core_reportbuilder_retrieve_report__moodle_reportbuilder_view+"
                     "moodle_reportbuilder_viewall")
    found = problems(moodle(moodle_stub, {"core_reportbuilder_retrieve_report": refused},
                            completion_report=7))
    assert found[0] == ("fail", "completion report 7", "the report is refused to the token user",
                        f"grant moodle/reportbuilder:view {GRANT}, and add the user (or its role) "
                        "to the report's audience, or grant moodle/reportbuilder:viewall")
    page = json.loads(json.dumps(READS["core_reportbuilder_retrieve_report"]))
    page["details"]["conditiondata"] = "{}"
    found = problems(moodle(moodle_stub, {"core_reportbuilder_retrieve_report": page},
                            completion_report=7))
    assert found == [("fail", "completion report 7", "it does not keep only completed participants",
                      "add the condition 'Completed' = Yes to the report")]


# -- Open edX, on the shapes the sandbox's tests pin ----------------------------------
LMS = "https://lms.example.org"
EDX_COURSE = "course-v1:FUN+SNT+2026_T1"


def edx(rsps: responses.RequestsMock, *, token: dict[str, Any] | int = 200, roles: bool = True,
        switch: bool = True, aggregator: bool = True, key_status: int = 200) -> list[Finding]:
    import jwt

    claims = {"preferred_username": "svc", "administrator": roles, "is_restricted": False}
    if isinstance(token, dict):
        claims.update(token)
    body = {"access_token": jwt.encode(claims, "k" * 32, algorithm="HS256"), "token_type": "JWT",
            "expires_in": 3600}
    rsps.post(f"{LMS}/oauth2/access_token", json=body if token != 401 else {"error": "invalid_client"},
              status=401 if token == 401 else 200)
    rsps.get(f"{LMS}/api/enrollment/v1/roles/", json={"roles": [], "is_staff": roles})
    rsps.get(f"{LMS}/api/courses/v1/courses/course-v1%3AFUN%2BSNT%2B2026_T1/",
             json={"id": EDX_COURSE, "name": "SNT"})
    rsps.post(f"{LMS}/api/completion/v1/completion-batch", status=200 if switch else 400,
              json={"detail": "ok"} if switch else {"detail": "BlockCompletion.objects.submit_batch_"
                                                    "completion should not be called when the "
                                                    "feature is disabled."})
    if aggregator:
        rsps.get(f"{LMS}/completion-aggregator/v1/course/course-v1%3AFUN%2BSNT%2B2026_T1/",
                 json={"pagination": {"next": None}, "results": []})
    else:
        rsps.get(f"{LMS}/completion-aggregator/v1/course/course-v1%3AFUN%2BSNT%2B2026_T1/",
                 status=404, body="<html>Page not found</html>", content_type="text/html")
    rsps.get(f"{LMS}/api/enrollment/v1/enrollment/svc,course-v1%3AFUN%2BSNT%2B2026_T1",
             status=key_status, body="")
    cfg = OpenEdxConfig(url=LMS, client_id="c", client_secret=SecretStr("s"),
                        api_key=SecretStr("key"), courses=[EDX_COURSE], retries=0)
    conn = OpenEdxConnector("lms", cfg, http=HttpClient("lms", retries=0, sleep=lambda s: None))
    return run_probes(conn.probes(), "lms")


@pytest.mark.parametrize("setup, expected", [
    ({}, []),
    ({"token": 401}, [("fail", "client credentials")]),
    ({"token": {"is_restricted": True}}, [("fail", "OAuth2 application")]),
    ({"roles": False}, [("fail", "global staff")]),
    ({"switch": False}, [("warn", "waffle switch completion.enable_completion_tracking")]),
    ({"aggregator": False}, [("warn", "plugin openedx-completion-aggregator")]),
    ({"key_status": 401}, [("fail", "API key")]),
])
def test_open_edx_messages(setup: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        found = edx(rsps, **setup)
    assert [(s, subj) for s, subj, _d, _f in problems(found)] == expected, problems(found)
    assert all(f.fix for f in found if f.status.value != "ok")


def test_without_the_course_list_a_completion_refusal_names_both_causes(moodle_stub: Any) -> None:
    site = dict(READS["core_webservice_get_site_info"])
    site["functions"] = [f for f in site["functions"] if f["name"] != "core_course_get_courses"]
    found = problems(moodle(moodle_stub, {
        "core_webservice_get_site_info": site,
        "core_completion_get_course_completion_status": answer(
            "refusals/core_completion_get_course_completion_status__complete__report_completion_view")}))
    assert [(s, subj) for s, subj, _d, _f in found] == [("fail", "capability report/completion:view")]
    assert found[0][2].endswith("(Moodle: You cannot view this report) (or completion tracking is "
                                "off for this course)")
