"""The sandbox answers each question recorded on the real Moodle 4.5.0 (tests/fixtures/
moodle-real-4.5.0) as the real one did: the same error (exception, errorcode, message) for a
refusal, the same shape for an answer, the same fields left out when a capability is missing.
So the sandbox cannot drift back to our assumptions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.moodle.client import encode_params
from sandbox import SandboxPlatform

from .shapes import assert_same_shape

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "moodle-real-4.5.0"
# Where the sandbox has nothing to match the question with, or follows the later recording.
NOT_ASKED = {
    "core_course_get_contents__cmid": "the sandbox's activities all track completion",
    "core_completion_override_activity_completion_status__untracked": "idem",
    "core_user_get_users_by_field__bad_field": "Moodle 4.5.6 answers invalidparameter "
                                               "(tests/fixtures/moodle-real), 4.5.0 a coding error",
    "core_enrol_get_enrolled_users__hidden_course": "the sandbox has no hidden course",
    "core_course_get_contents__hidden_course": "idem",
}

# Fields the sandbox's data has and the recorded instance's did not.
DATA_ONLY_OURS = {"core_course_get_contents__attendance": "completiondata",  # tracked there
                  "gradereport_user_get_grade_items__mod_attendance_view": "cmid"}  # a quiz there


def _keys(answer: Any) -> set[str]:
    return set(re.findall(r'"(\w+)":', json.dumps(answer)))


def _roles(answer: Any) -> set[str]:
    return {r["shortname"] for u in answer for r in u.get("roles", [])}


# What a missing capability silently takes away, checked on the recording and on the sandbox.
SILENT = {
    "moodle/site:viewuseridentity": lambda a: "email" not in _keys(a),
    "moodle/user:viewalldetails": lambda a: not {"lang", "username"} & _keys(a),
    "moodle/user:viewdetails": lambda a: _roles(a) <= {"editingteacher"},
    "mod/attendance:view": lambda a: '"attendance"' not in json.dumps(a),
}


def recordings() -> list[Path]:
    return sorted(p for p in RECORDED.glob("*/*.json")
                  if not any(p.stem.startswith(skip) for skip in NOT_ASKED))


def roles(sb: SandboxPlatform) -> dict[str, Any]:
    """The sandbox's own answer to each symbolic parameter of the recordings."""
    w, c = sb.world, sb.world.courses[0]
    complete = next(u for u in w.enrolled(c.id) if w.course_completed(u, c))
    untouched = next(u for u in w.enrolled(c.id) if not u.progress[c.id].activities)
    statuses = [c.statuses[k] for k in ("P", "L", "E", "A")]
    return {"$course": c.id, "$complete": complete.id, "$incomplete": untouched.id,
            "$stranger": w.service_user.id, "$manual": next(a.cmid for a in c.activities
                                                             if a.tracking == 1),
            "$attendance": c.attendance_id, "$session": c.sessions[0].id,
            "$present": c.statuses["P"], "$statusset": ",".join(map(str, statuses)),
            "$taker": w.teachers[0].id, "$report": 1}


def resolve(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return ids[value]
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


def ask(sb: SandboxPlatform, function: str, params: dict[str, Any]) -> Any:
    data = {"wstoken": sb.token, "wsfunction": function, "moodlewsrestformat": "json",
            **encode_params(resolve(params, roles(sb)))}
    resp = requests.post(f"{sb.base_url}/webservice/rest/server.php", data=data, timeout=10)
    assert resp.status_code == 200
    return resp.json() if resp.content else None


def same_words(message: str) -> str:
    return re.sub(r"\d+", "N", message)


@pytest.mark.parametrize("path", recordings(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_sandbox_answers_as_the_real_moodle_did(path: Path) -> None:
    recorded = json.loads(path.read_text(encoding="utf-8"))
    call, real = recorded["call"], recorded["answer"]
    with SandboxPlatform("moodle", seed=7, missing_capabilities=set(recorded["dropped"]),
                         missing_functions={"core_completion_get_course_completion_status"}
                         if path.stem.endswith("not_in_service") else None) as sb:
        if path.stem.endswith("invalid_token"):
            ours = requests.post(f"{sb.base_url}/webservice/rest/server.php", timeout=10, data={
                "wstoken": "0" * 32, "wsfunction": call["function"],
                "moodlewsrestformat": "json"}).json()
        else:
            ours = ask(sb, call["function"], call["params"])
    if isinstance(real, dict) and "errorcode" in real:
        assert isinstance(ours, dict), ours
        assert (ours.get("exception"), ours.get("errorcode"), same_words(ours.get("message", ""))) == \
            (real["exception"], real["errorcode"], same_words(real["message"]))
    elif real is None:
        assert ours is None
    else:
        extra = next((v for k, v in DATA_ONLY_OURS.items() if path.stem.startswith(k)), None)
        assert_same_shape(ours, real, extra_under=extra)
        if isinstance(real, list):
            assert bool(ours) == bool(real)  # a list Moodle empties, the sandbox empties too
        for cap in recorded["dropped"]:
            if cap in SILENT:
                assert SILENT[cap](real) and SILENT[cap](ours), cap
