"""Every errorcode the real Moodle 4.5.0 answered the connector's calls with (recorded in
tests/fixtures/moodle-real-4.5.0) becomes one error that says what is missing and how to fix it,
and is kept (an administrator can fix it) or ends the item (nothing can)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import FixableSourceError, PermanentSourceError
from connectors.http import HttpClient
from connectors.moodle import needs
from connectors.moodle.client import (
    FunctionAbsent,
    InvalidParameter,
    InvalidToken,
    MissingCapability,
    MoodleClient,
    MoodleError,
    NotEnrolled,
    NotFound,
    NotInService,
)

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "moodle-real-4.5.0"


def recorded(folder: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((RECORDED / folder).glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(rec["answer"], dict) and "errorcode" in rec["answer"]:
            out.append((path.stem, rec))
    return out


def client() -> MoodleClient:
    c = MoodleClient(HttpClient("campus"), "https://moodle.example.org", "t0k3n")
    c.user = "bbws"
    return c


@pytest.mark.parametrize("name, rec", recorded("refusals"), ids=lambda v: v if isinstance(v, str) else "")
def test_each_recorded_capability_refusal_names_a_dropped_capability_and_its_fix(
        name: str, rec: dict[str, Any]) -> None:
    err = client().error(rec["call"]["function"], rec["answer"])
    assert isinstance(err, MissingCapability) and isinstance(err, FixableSourceError), name
    assert set(err.capabilities) & set(rec["dropped"]), (err.capabilities, rec["dropped"])
    assert err.fix and "to the role of web-service user bbws" in err.fix
    assert err.endpoint == rec["call"]["function"] and err.code == rec["answer"]["errorcode"]


EXPECTED = {
    "core_completion_get_activities_completion_status__not_enrolled": None,  # not an error body
    "core_completion_get_course_completion_status__not_enrolled": NotEnrolled,
    "core_completion_get_course_completion_status__no_course": NotFound,
    "core_completion_get_course_completion_status__courseid_not_int": InvalidParameter,
    "core_completion_get_course_completion_status__not_in_service": NotInService,
    "core_completion_override_activity_completion_status__no_cmid": NotFound,
    "core_enrol_get_enrolled_users__no_course": NotFound,
    "core_reportbuilder_retrieve_report__no_report": NotFound,
    "core_user_get_users_by_field__bad_field": MoodleError,  # a coding error on 4.5.0: kept, retried
    "core_webservice_get_site_info__invalid_token": InvalidToken,
    "mod_attendance_get_session__no_session": NotFound,
    "mod_attendance_get_sessions__no_attendance": NotFound,
    "mod_attendance_get_sessions_v2__unknown_function": FunctionAbsent,
}


@pytest.mark.parametrize("name, rec", recorded("errors"), ids=lambda v: v if isinstance(v, str) else "")
def test_each_recorded_error_has_its_kind(name: str, rec: dict[str, Any]) -> None:
    err = client().error(rec["call"]["function"], rec["answer"])
    assert type(err) is EXPECTED[name]
    assert isinstance(err, PermanentSourceError) == (EXPECTED[name] in (
        NotEnrolled, NotFound, InvalidParameter))
    if isinstance(err, FixableSourceError):
        assert err.fix


def test_every_errorcode_recorded_for_a_function_is_declared_for_it() -> None:
    """needs.FUNCTIONS (a refusal of that function) or needs.GENERIC (any function) knows it."""
    unknown = set()
    for _, rec in recorded("refusals") + recorded("errors"):
        code, function = rec["answer"]["errorcode"], rec["call"]["function"]
        if needs.refusal(function, code) is None and code not in needs.GENERIC and \
                code != "codingerror" and "external_functions" not in rec["answer"]["message"]:
            unknown.add((function, code))
    assert unknown == set()


def test_each_capability_a_refusal_names_is_declared_with_what_is_lost() -> None:
    named = {c for f in needs.FUNCTIONS.values() for r in f.refusals.values() for c in r.capabilities}
    undeclared = named - set(needs.CAPABILITIES) - {
        "mod/attendance:changeattendances", "mod/attendance:manageattendances",  # take's peers
        "mod/<module>:view"}  # the activity's own, named by its type
    assert undeclared == set()


def test_what_a_setup_probe_walks_covers_every_function_and_capability() -> None:
    from connectors.moodle import MoodleConnector

    keys = {r.key for r in MoodleConnector.requirements}
    assert {f"function:{f}" for f in needs.FUNCTIONS} <= keys
    assert {f"capability:{c}" for c in needs.CAPABILITIES} <= keys
    proofs = {c.proof for c in needs.CAPABILITIES.values()} - {None}
    assert proofs <= set(needs.FUNCTIONS)  # each proof is a read the connector knows
    silent = {c.name for c in needs.CAPABILITIES.values() if c.silent}
    assert silent >= {"moodle/site:viewuseridentity", "moodle/user:viewdetails",
                      "moodle/user:viewalldetails"}


def test_a_push_route_to_moodle_with_a_target_it_cannot_take_is_refused_at_load(write_config) -> None:
    from bridge.errors import ConfigError
    from connectors.registry import load

    path = write_config('''
[sources.campus]
kind = "moodle"
url = "https://moodle.example.org"
token = "t"

[sources.sheets]
kind = "csv"
path = "."

[[sources.sheets.push]]
to = "campus"
course = "42"
target = "block:block-v1:x+y+z+type@html+block@p"
''')
    with pytest.raises(ConfigError, match=r":14: sources.sheets.push\[0\].target: a Moodle source takes"):
        load(path)
