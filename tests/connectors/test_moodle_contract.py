"""Moodle connector against the recorded Moodle payloads: what an administrator gets from each
endpoint, and the one clear error line for each kind of refusal."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.errors import FixableSourceError
from bridge.model import Attestation, FactKind
from connectors.http import HttpClient, PayloadError
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.moodle.client import InvalidToken, MissingCapability, NotEnrolled, NotFound

from .conftest import MOODLE_URL, FakeState, fixture

NAMES = {"101": "alice_completed", "102": "bruno_in_progress", "103": "chloe_not_started"}


def per_learner(fn: str) -> Any:
    return lambda p: fixture(f"moodle/{fn}__{NAMES[p['userid']]}")


def recorded_site() -> dict[str, Any]:
    table = {fn: (lambda p, fn=fn: fixture(f"moodle/{fn}")) for fn in (
        "core_webservice_get_site_info", "core_enrol_get_enrolled_users", "core_user_get_users_by_field",
        "core_course_get_contents", "gradereport_user_get_grade_items", "mod_attendance_get_sessions")}
    table["core_completion_get_course_completion_status"] = per_learner(
        "core_completion_get_course_completion_status")
    table["core_completion_get_activities_completion_status"] = per_learner(
        "core_completion_get_activities_completion_status")
    return table


def connector(**overrides: Any) -> MoodleConnector:
    cfg = MoodleConfig(url=MOODLE_URL, token="t0k3n", courses=["42"], **overrides)
    return MoodleConnector("campus", cfg, http=HttpClient("campus", retries=1, sleep=lambda s: None),
                           clock=lambda: 1_800_000_000)  # runs in the same second: no re-check share


def test_a_full_pull_turns_every_endpoint_into_facts(moodle_stub: Any) -> None:
    calls = moodle_stub(recorded_site())
    state = FakeState()
    batches = list(connector().pull(state))
    facts = {(f.external_id, f.kind, f.item): f for b in batches for f in b.facts}
    idents = {i.external_id: i for b in batches for i in b.identities}

    assert not state.errors
    assert idents["101"].email == "alice.martin@example.org" and idents["101"].lang == "fr"
    assert facts[("101", FactKind.course_completion, "")].value == 1.0
    assert facts[("102", FactKind.course_completion, "")].value == 0.0
    assert facts[("101", FactKind.activity_completion, "502")].status == "complete-pass"
    assert facts[("101", FactKind.grade, "")].value == pytest.approx(0.9)
    presence = facts[("102", FactKind.presence, "3001")]
    assert presence.value == 1.0 and presence.status == "P"
    assert presence.attrs["session_date"].startswith("2025-10-11T08:00")
    assert presence.attrs["title"] == "Séance pratique SST – salle B12"
    assert calls.count("gradereport_user_get_grade_items") == 1  # one call per course, not per learner


def test_a_rerun_without_change_reads_no_learner_again(moodle_stub: Any) -> None:
    calls = moodle_stub(recorded_site())
    state = FakeState()
    for b in connector().pull(state):
        state.keep(b)
    calls.clear()
    again = [f for b in connector().pull(state) for f in b.facts if f.kind != FactKind.enrolment]
    assert again == []
    # the docstring's bound: site info + per course module names, grades, contents, sessions,
    # one roster page (the recorded service has no core_course_get_courses: no course names)
    assert sorted(calls) == sorted(["core_webservice_get_site_info", "gradereport_user_get_grade_items",
                                    "core_course_get_contents",
                                    "core_course_get_contents", "mod_attendance_get_sessions",
                                    "core_enrol_get_enrolled_users"])


def test_a_teachers_attendance_mark_rereads_that_learner_only(moodle_stub: Any) -> None:
    sessions = fixture("moodle/mod_attendance_get_sessions")
    table = recorded_site()
    table["mod_attendance_get_sessions"] = lambda p: sessions
    calls = moodle_stub(table)
    state = FakeState()
    for b in connector().pull(state):
        state.keep(b)
    calls.clear()
    # Chloé is marked present by a teacher: her lastcourseaccess does not move
    sessions[0]["attendance_log"].append({"studentid": 103, "statusid": "21", "remarks": "", "id": "8803"})
    facts = [f for b in connector().pull(state) for f in b.facts if f.kind != FactKind.enrolment]
    assert {f.external_id for f in facts} == {"103"}
    assert calls.count("core_completion_get_activities_completion_status") == 1


def test_a_bad_token_is_one_clear_error_naming_source_and_endpoint(moodle_stub: Any) -> None:
    moodle_stub({"core_webservice_get_site_info": lambda p: fixture("moodle/ws_error_invalidtoken")})
    with pytest.raises(InvalidToken) as err:
        list(connector().pull(FakeState()))
    assert "source campus core_webservice_get_site_info" in str(err.value)
    assert "token is not valid" in str(err.value) and err.value.code == "invalidtoken"


def test_a_missing_capability_in_one_course_is_recorded_and_the_source_carries_on(moodle_stub: Any) -> None:
    table = recorded_site()
    table["core_enrol_get_enrolled_users"] = lambda p: fixture(
        "moodle-real/error__missing_capability__core_enrol_get_enrolled_users")
    moodle_stub(table)
    state = FakeState()
    list(connector().pull(state))
    assert len(state.errors) == 1 and isinstance(state.errors[0], MissingCapability)
    assert state.errors[0].endpoint == "core_enrol_get_enrolled_users"
    assert "cannot enter the course" in str(state.errors[0])
    assert state.errors[0].fix and "grant moodle/course:view" in state.errors[0].fix


def test_a_missing_optional_function_is_reported_once_by_name(moodle_stub: Any) -> None:
    table = recorded_site()
    site = fixture("moodle/core_webservice_get_site_info")
    site["functions"] = [f for f in site["functions"] if f["name"] != "gradereport_user_get_grade_items"]
    table["core_webservice_get_site_info"] = lambda p: site
    moodle_stub(table)
    state = FakeState()
    list(connector().pull(state))
    assert [e.detail for e in state.errors] == [
        "gradereport_user_get_grade_items not in the token's web service: no grades"]
    assert "add gradereport_user_get_grade_items to the token's external service" in str(state.errors[0])


def test_an_unknown_course_says_so(moodle_stub: Any) -> None:
    table = recorded_site()
    table["core_enrol_get_enrolled_users"] = lambda p: fixture("moodle-real/error__nonexistent_course")
    moodle_stub(table)
    state = FakeState()
    list(connector().pull(state))
    assert isinstance(state.errors[0], NotFound)


def test_a_payload_of_the_wrong_shape_names_the_field(moodle_stub: Any) -> None:
    table = recorded_site()
    broken = fixture("moodle/core_enrol_get_enrolled_users")
    broken[1]["id"] = "not-a-number"
    table["core_enrol_get_enrolled_users"] = lambda p: broken
    moodle_stub(table)
    state = FakeState()
    list(connector().pull(state))
    assert isinstance(state.errors[0], PayloadError)
    assert state.errors[0].field == "1.id" and state.errors[0].endpoint == "core_enrol_get_enrolled_users"


def test_pushing_completion_checks_first_then_reads_back(moodle_stub: Any) -> None:
    done = {"state": 0}

    def activities(p: dict[str, str]) -> Any:
        body = fixture("moodle/core_completion_get_activities_completion_status__bruno_in_progress")
        for s in body["statuses"]:
            if s["cmid"] == 503:
                s["state"] = done["state"]
        return body

    def override(p: dict[str, str]) -> Any:
        done["state"] = 1
        return fixture("moodle/core_completion_override_activity_completion_status")

    calls = moodle_stub({
        "core_webservice_get_site_info": lambda p: fixture("moodle/core_webservice_get_site_info"),
        "core_completion_get_activities_completion_status": activities,
        "core_completion_override_activity_completion_status": override,
        "core_completion_get_course_completion_status": lambda p: fixture(
            "moodle/core_completion_get_course_completion_status__alice_completed")})
    att = Attestation(source="campus", external_id="102", course="42", session="3001",
                      target="completion:503")
    result = connector().push(att)
    assert result.accepted and result.reflected
    # The learner is read back once: the facts the push caused are stored with the result.
    read_back = {(f.kind.value, f.item): f.value for f in result.facts}
    assert read_back[("course_completion", "")] == 1.0
    assert read_back[("activity_completion", "503")] == 1.0
    again = connector().push(att)
    assert again.message == "already complete; nothing sent"
    assert calls.count("core_completion_override_activity_completion_status") == 1


def test_a_push_refused_for_a_capability_names_it_and_is_kept(moodle_stub: Any) -> None:
    moodle_stub({
        "core_webservice_get_site_info": lambda p: fixture("moodle/core_webservice_get_site_info"),
        "core_completion_get_activities_completion_status": lambda p: fixture(
            "moodle/core_completion_get_activities_completion_status__bruno_in_progress"),
        "core_completion_override_activity_completion_status": lambda p: fixture(
            "moodle-real-4.5.0/refusals/core_completion_override_activity_completion_status__"
            "moodle_course_overridecompletion")["answer"]})
    att = Attestation(source="campus", external_id="102", course="42", session="3001",
                      target="completion:503")
    with pytest.raises(FixableSourceError) as err:
        connector().push(att)
    assert isinstance(err.value, MissingCapability) and err.value.code == "nopermission"
    assert err.value.fix == ("grant moodle/course:overridecompletion to the role of web-service "
                             "user syncbot (Site administration › Users › Permissions › Define roles)")


def test_a_push_for_a_learner_not_enrolled_is_refused_before_anything_is_written(moodle_stub: Any) -> None:
    calls = moodle_stub({
        "core_webservice_get_site_info": lambda p: fixture("moodle/core_webservice_get_site_info"),
        "core_completion_get_activities_completion_status": lambda p: fixture(
            "moodle-real/core_completion_get_activities_completion_status__user_not_enrolled")})
    att = Attestation(source="campus", external_id="9", course="3", session="s", target="completion:7")
    with pytest.raises(NotEnrolled, match="not enrolled"):
        connector().push(att)
    assert "core_completion_override_activity_completion_status" not in calls


def test_a_learner_queued_after_a_push_is_read_again_and_unqueued(moodle_stub: Any) -> None:
    calls = moodle_stub(recorded_site())
    state = FakeState()
    for b in connector().pull(state):
        state.keep(b)
    calls.clear()
    state.marks[("42", "reread:102")] = "1"  # a push wrote to Moodle; its read-back was lost
    batches = list(connector().pull(state))
    read = {f.external_id for b in batches for f in b.facts if f.kind == FactKind.course_completion}
    assert read == {"102"} and calls.count("core_completion_get_course_completion_status") == 1
    assert [(w.stream, w.value) for b in batches for w in b.watermarks if w.stream.startswith("reread:")] \
        == [("reread:102", "")]


def test_a_push_whose_functions_are_not_in_the_service_is_kept_without_calling_them(
        moodle_stub: Any) -> None:
    site = fixture("moodle/core_webservice_get_site_info")
    site["functions"] = [f for f in site["functions"]
                         if f["name"] != "core_completion_override_activity_completion_status"]
    calls = moodle_stub({"core_webservice_get_site_info": lambda p: site})
    att = Attestation(source="campus", external_id="102", course="42", session="3001",
                      target="completion:503")
    with pytest.raises(FixableSourceError, match="add core_completion_override_activity_completion_status "
                                                 "to the token's external service"):
        connector().push(att)
    assert calls == ["core_webservice_get_site_info"]


def test_attendance_sessions_as_recorded_become_meetup_sessions(moodle_stub: Any) -> None:
    """mod_attendance_get_sessions as a real Moodle 4.5 (mod_attendance 2024020500) answers it:
    `sessdate` and `duration` in seconds, the description as HTML the teacher wrote."""
    calls = moodle_stub({"core_course_get_contents": lambda p: fixture("moodle-real/core_course_get_contents"),
                         "mod_attendance_get_sessions": lambda p: fixture("moodle-real/mod_attendance_get_sessions")})
    [session] = connector().meetup_sessions("42")
    assert calls == ["core_course_get_contents", "mod_attendance_get_sessions"]
    assert (session.source, session.course, session.id) == ("campus", "42", "1")
    assert session.title == "In-person workshop, Room 101" and session.place == ""
    assert session.start.timestamp() == 1795424400
    assert (session.end - session.start).total_seconds() == 7200
    assert session.target == "attendance:1"
