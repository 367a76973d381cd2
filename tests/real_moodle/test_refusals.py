"""Every refusal a real Moodle 4.5 gives the connector's calls is reported once per run, names
the function, the capability and the fix, and leaves the rest of the run's work done."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bridge.errors import PermanentSourceError
from bridge.model import Attestation, FactKind
from connectors.moodle.client import FunctionAbsent, MissingCapability, NotEnrolled


def errors(report: Any) -> list[str]:
    return [f"{e.endpoint} [{e.code}] {e.message}" for e in report.errors]


def test_without_report_completion_view_one_line_then_everything_once_granted(
        site: Any, hybrid: dict[str, Any], bridge: Any) -> None:
    token = site.crippled("--drop-cap=report/completion:view")
    b = bridge(hybrid["courseid"], token=token)
    report = b.sync()
    assert len(report.errors) == 1, errors(report)
    line = report.errors[0].message
    assert report.errors[0].endpoint == "core_completion_get_course_completion_status"
    assert "grant report/completion:view to the role of web-service user" in line
    calls = b.calls()
    assert calls["core_completion_get_course_completion_status"] == 1  # asked once, not per learner
    meetup = b.facts(FactKind.activity_completion, str(hybrid["cmids"]["meetup"]))
    assert len(meetup) == 20  # the learners' activity facts are kept
    assert b.awarded() == set()
    # the administrator grants it (here: the full token); the next run reads what was missing
    b.connector.client.token = site.token
    again = b.sync()
    assert again.errors == [] and b.awarded() == set(hybrid["userids"]["complete"])
    assert b.calls()["core_completion_get_course_completion_status"] == 20


@pytest.mark.parametrize("drops, capability, text", [
    ("moodle/site:viewuseridentity,moodle/course:useremail", "moodle/site:viewuseridentity",
     "came without their email"),
    ("moodle/user:viewalldetails", "moodle/user:viewalldetails", "came without their language"),
    ("moodle/user:viewdetails", "moodle/user:viewdetails", "the roster came back empty"),
])
def test_what_moodle_leaves_out_silently_is_said_once(site: Any, hybrid: dict[str, Any], bridge: Any,
                                                      drops: str, capability: str, text: str) -> None:
    b = bridge(hybrid["courseid"], token=site.crippled(f"--drop-cap={drops}"))
    report = b.sync()
    said = [e.message for e in report.errors] + report.sources["campus"].warnings
    assert len(said) == 1, said
    assert text in said[0] and capability in said[0]


def test_attendance_without_its_capabilities_names_them_not_a_parameter(
        site: Any, hybrid: dict[str, Any], bridge: Any) -> None:
    token = site.crippled("--drop-cap=mod/attendance:takeattendances,mod/attendance:changeattendances,"
                          "mod/attendance:manageattendances")
    b = bridge(hybrid["courseid"], token=token)
    report = b.sync()
    assert errors(report) == [errors(report)[0]] and report.errors[0].code == "invalidparameter"
    assert "mod/attendance:takeattendances or mod/attendance:changeattendances" in report.errors[0].message
    assert b.awarded() == set(hybrid["userids"]["complete"])  # the rest of the run is done


def test_a_missing_function_a_bad_token_and_a_hidden_course(site: Any, course_name: Any,
                                                            bridge: Any) -> None:
    visible, hidden = site.course(course_name("a"), learners=4), site.course(course_name("h"), learners=4)
    site.op("visible", courseid=hidden["courseid"], visible=0)
    token = site.crippled("--drop-cap=moodle/course:viewhiddencourses",
                          "--drop-function=gradereport_user_get_grade_items")
    b = bridge(visible["courseid"], token=token,
               courses=[str(visible["courseid"]), str(hidden["courseid"])])
    report = b.sync()
    function, course = report.errors  # one line each
    assert function.endpoint == "core_webservice_get_site_info" and \
        "add gradereport_user_get_grade_items to the token's external service" in function.message
    assert course.code == "errorcoursecontextnotvalid"
    assert f"course id:{hidden['courseid']}" in course.message
    assert "moodle/course:view or moodle/course:viewhiddencourses" in course.message
    assert b.awarded() == set(visible["userids"]["complete"])  # the visible course is synced
    b.connector.client.token = "0" * 32
    bad = b.sync().errors
    assert [e.code for e in bad] == ["invalidtoken"] and "make a new token" in bad[0].message


def test_pushes_refused_name_the_capability_or_end_when_nothing_can_fix_them(
        site: Any, hybrid: dict[str, Any]) -> None:
    learner = hybrid["userids"]["online_only"][0]
    meetup = Attestation(source="campus", external_id=str(learner), course=str(hybrid["courseid"]),
                         session="sheets/meetup-1", target=f"completion:{hybrid['cmids']['meetup']}")
    present = Attestation(source="campus", external_id=str(learner), course=str(hybrid["courseid"]),
                          session="sheets/meetup-1", target=f"attendance:{hybrid['sessionid']}")
    token = site.crippled("--drop-cap=moodle/course:overridecompletion,mod/attendance:takeattendances")
    crippled = site.connector(token=token)
    with pytest.raises(MissingCapability) as completion:
        crippled.push(meetup)
    assert completion.value.code == "nopermission"
    assert completion.value.capabilities == ("moodle/course:overridecompletion",)
    with pytest.raises(MissingCapability) as attendance:
        crippled.push(present)
    assert attendance.value.code == "invalidparameter"
    assert attendance.value.capabilities == ("mod/attendance:takeattendances",)
    full = site.connector()
    stranger = full.site_info().userid  # the web-service user itself: enrolled nowhere
    for att in (meetup, present):
        with pytest.raises(NotEnrolled) as not_enrolled:
            full.push(dataclasses.replace(att, external_id=str(stranger)))
        assert isinstance(not_enrolled.value, PermanentSourceError)
    log = site.op("log", sessionid=hybrid["sessionid"])["rows"]
    assert str(stranger) not in {r["studentid"] for r in log}  # nothing was written
    assert set(full.requests) == {"core_webservice_get_site_info", "mod_attendance_get_session",
                                  "core_completion_get_activities_completion_status"}


def test_a_function_of_a_plugin_the_site_lacks(site: Any) -> None:
    """A site without mod_attendance answers its functions as any unknown function."""
    with pytest.raises(FunctionAbsent) as absent:
        site.connector().client.call("mod_attendance_get_sessions_v2", attendanceid=1)
    assert absent.value.code == "invalidrecord"
