"""The sandbox's Moodle dialect over real HTTP: payload shapes equal the recorded real
Moodle 4.5 ones, errors are Moodle's, paging, pushes, seeding and scale."""

from __future__ import annotations

import dataclasses
import json
import random
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import SandboxPlatform
from sandbox import moodle_fns as fns
from sandbox.command import snippet
from sandbox.seed import demo_world, scale_world
from sandbox.world import Progress

from .shapes import assert_same_shape

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "moodle-real"
SYNTH = Path(__file__).resolve().parents[1] / "fixtures" / "moodle"


def real(name: str) -> Any:
    return json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxPlatform]:
    with SandboxPlatform("moodle", seed=7, missing_functions={"mod_attendance_add_session"}) as p:
        yield p


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def call(sb: SandboxPlatform, http: requests.Session, fn: str, fmt: Any = "json",
         **params: Any) -> Any:
    data = {"wstoken": sb.token, "wsfunction": fn, **params}
    if fmt:
        data["moodlewsrestformat"] = fmt
    r = http.post(f"{sb.base_url}/webservice/rest/server.php", data=data, timeout=10)
    assert r.status_code == 200
    return r.json() if fmt == "json" else r.text


def opts(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (k, v) in enumerate(kw.items()):
        out[f"options[{i}][name]"], out[f"options[{i}][value]"] = k, v
    return out


def pick(sb: SandboxPlatform, pred: Any) -> int:
    c = sb.world.courses[0]
    return next(u.id for u in sb.world.learners if pred(u, c))


# --- shapes ----------------------------------------------------------------
def test_read_payload_shapes_match_real_moodle(sb: SandboxPlatform, http: requests.Session):
    w = sb.world
    done = pick(sb, w.course_completed)
    todo = pick(sb, lambda u, c: not w.course_completed(u, c))
    pairs = [
        (call(sb, http, "core_webservice_get_site_info"), "core_webservice_get_site_info"),
        (call(sb, http, "core_course_get_courses", **{"options[ids][0]": 42}),
         "core_course_get_courses"),
        (call(sb, http, "core_course_get_courses"), "core_course_get_courses__all"),
        (call(sb, http, "core_course_get_contents", courseid=42), "core_course_get_contents"),
        (call(sb, http, "core_enrol_get_enrolled_users", courseid=42),
         "core_enrol_get_enrolled_users"),
        (call(sb, http, "core_enrol_get_enrolled_users", courseid=42,
              **opts(userfields="id,fullname,email", limitfrom=0, limitnumber=5)),
         "core_enrol_get_enrolled_users__paged_userfields_LOAD500"),
        (call(sb, http, "core_user_get_users_by_field", field="id",
              **{"values[0]": done, "values[1]": todo}), "core_user_get_users_by_field"),
        (call(sb, http, "core_completion_get_course_completion_status", courseid=42,
              userid=done), "core_completion_get_course_completion_status__alice"),
        (call(sb, http, "core_completion_get_course_completion_status", courseid=42,
              userid=todo), "core_completion_get_course_completion_status__bob"),
        (call(sb, http, "core_completion_get_activities_completion_status", courseid=42,
              userid=done), "core_completion_get_activities_completion_status__alice"),
        (call(sb, http, "gradereport_user_get_grade_items", courseid=42),
         "gradereport_user_get_grade_items"),
        (call(sb, http, "mod_attendance_get_session", sessionid=3001),
         "mod_attendance_get_session__after_mark"),
        (call(sb, http, "mod_attendance_get_sessions", attendanceid=7),
         "mod_attendance_get_sessions"),
    ]
    for ours, name in pairs:
        assert_same_shape(ours, real(name))


def test_enrolled_users_have_no_lang_but_users_by_field_do(sb, http):
    roster = call(sb, http, "core_enrol_get_enrolled_users", courseid=42)
    assert all("lang" not in u and "lastcourseaccess" in u for u in roster)
    teacher = [u for u in roster if u["roles"][0]["shortname"] == "editingteacher"]
    assert len(teacher) == 1 and teacher[0]["id"] not in {u.id for u in sb.world.learners}
    users = call(sb, http, "core_user_get_users_by_field", field="username",
                 **{"values[0]": sb.world.learners[0].username, "values[1]": "nobody"})
    assert [u["lang"] for u in users] == [sb.world.learners[0].lang]


def test_today_sessions_shape_and_xml_default(sb, http):
    today = call(sb, http, "mod_attendance_get_courses_with_today_sessions", userid=4)
    synth = json.loads((SYNTH / "mod_attendance_get_courses_with_today_sessions.json").read_text())
    assert_same_shape(today, synth, keys_only=True)  # synthetic: the real answer was []
    assert call(sb, http, "mod_attendance_get_courses_with_today_sessions", userid=0) == []
    by_field = call(sb, http, "core_course_get_courses_by_field", field="id", value="42")
    synth = json.loads((SYNTH / "core_course_get_courses_by_field.json").read_text())
    assert_same_shape(by_field, synth, keys_only=True)
    xml = call(sb, http, "core_completion_get_course_completion_status", fmt="",
               courseid=42, userid=sb.world.learners[0].id)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>')
    assert '<KEY name="completionstatus">' in xml


# --- errors ----------------------------------------------------------------
def test_errors_are_the_recorded_bodies(sb, http):
    uid = sb.world.learners[0].id
    r = http.post(f"{sb.base_url}/webservice/rest/server.php", data={
        "wstoken": "nope", "wsfunction": "core_webservice_get_site_info",
        "moodlewsrestformat": "json"})
    assert r.status_code == 200 and r.json() == real("error__invalid_token")
    cases = [
        ("core_badges_get_user_badges", {}, "error__function_not_in_service"),
        ("mod_attendance_add_session", {"attendanceid": 7, "sessiontime": 1},
         "error__function_not_in_service"),
        ("no_such_function", {}, "error__unknown_function"),
        ("core_user_get_users_by_field", {"field": "shoesize", "values[0]": "1"},
         "error__invalid_parameter__bad_field"),
        ("core_completion_get_course_completion_status", {"courseid": "abc", "userid": uid},
         "error__invalid_parameter__courseid_not_int"),
        ("core_completion_get_course_completion_status", {"courseid": 42},
         "error__invalid_parameter__missing_required"),
        ("core_completion_get_course_completion_status", {"courseid": 999, "userid": uid},
         "error__nonexistent_course"),
        ("core_completion_override_activity_completion_status",
         {"userid": uid, "cmid": 9999, "newstate": 1}, "error__nonexistent_cmid"),
    ]
    for fn, params, fixture in cases:
        assert call(sb, http, fn, **params) == real(fixture), fn
    assert "mod_attendance_add_session" not in {
        f["name"] for f in call(sb, http, "core_webservice_get_site_info")["functions"]}


def test_not_enrolled_and_no_criteria():
    with SandboxPlatform(seed=7) as p, requests.Session() as http:
        u = p.world.learners[0]
        p.world.courses[0].has_criteria = False
        assert call(p, http, "core_completion_get_course_completion_status", courseid=42,
                    userid=u.id) == real("error__no_completion_criteria_set")
        p.world.courses[0].has_criteria = True
        u.progress[42].enrolled = False
        assert call(p, http, "core_completion_get_course_completion_status", courseid=42,
                    userid=u.id) == real("error__user_not_enrolled")
        acts = call(p, http, "core_completion_get_activities_completion_status", courseid=42,
                    userid=u.id)
        assert_same_shape(acts, real("core_completion_get_activities_completion_status__user_not_enrolled"))
        assert not any(s["istrackeduser"] for s in acts["statuses"])
        # Real Moodle 4.5 (§6.5): an override for a non-enrolled user succeeds.
        out = call(p, http, "core_completion_override_activity_completion_status",
                   userid=u.id, cmid=503, newstate=1)
        assert_same_shape(out, real("core_completion_override_activity_completion_status__user_not_enrolled"))
        assert out["state"] == 1 and len(p.pushes) == 1


# --- paging ------------------------------------------------------------------
def test_limitfrom_limitnumber_paging(sb, http):
    full = call(sb, http, "core_enrol_get_enrolled_users", courseid=42)
    assert len(full) == 41  # 40 learners + the teacher
    got: list[int] = []
    start = 0
    while True:
        page = call(sb, http, "core_enrol_get_enrolled_users", courseid=42,
                    **opts(limitfrom=start, limitnumber=7, sortby="id",
                           userfields="id,email,fullname"))
        got += [u["id"] for u in page]
        if len(page) < 7:
            break
        start += 7
    assert got == sorted(u["id"] for u in full)
    desc = call(sb, http, "core_enrol_get_enrolled_users", courseid=42,
                **opts(sortby="lastname", sortdirection="DESC", limitnumber=3))
    names = sorted((u["lastname"] for u in full), reverse=True)[:3]
    assert [u["lastname"] for u in desc] == names


# --- pushes ------------------------------------------------------------------
def test_override_completes_course_immediately_and_is_recorded():
    with SandboxPlatform(seed=7) as p, requests.Session() as http:
        w, c = p.world, p.world.courses[0]
        # marked present at the meetup, online done, but 503 not completed yet
        uid = pick(p, lambda u, c: w.attended(u, c) and not w.course_completed(u, c)
                   and w.activity_completed(u, c, 502))
        before = call(p, http, "core_completion_get_course_completion_status", courseid=42,
                      userid=uid)
        assert before["completionstatus"]["completed"] is False
        out = call(p, http, "core_completion_override_activity_completion_status",
                   userid=uid, cmid=503, newstate=1)
        assert out["state"] == 1 and out["overrideby"] == w.service_user.id
        after = call(p, http, "core_completion_get_course_completion_status", courseid=42,
                     userid=uid)
        assert after["completionstatus"]["completed"] is True
        assert p.pushes[-1]["kind"] == "moodle.override" and p.pushes[-1]["userid"] == uid
        # undoing the override leaves the course criterion met (§6.4)
        call(p, http, "core_completion_override_activity_completion_status", userid=uid,
             cmid=503, newstate=0)
        assert w.course_completed(w.by_id[uid], c)
        assert not w.activity_completed(w.by_id[uid], c, 503)


def test_attendance_status_push_does_not_complete_activity():
    with SandboxPlatform(seed=7) as p, requests.Session() as http:
        w, c = p.world, p.world.courses[0]
        uid = pick(p, lambda u, c: not w.attended(u, c) and not w.activity_completed(u, c, 503))
        session = call(p, http, "mod_attendance_get_session", sessionid=3002)
        present = next(s["id"] for s in session["statuses"] if s["acronym"] == "P")
        assert present == c.statuses["P"]
        out = call(p, http, "mod_attendance_update_user_status", sessionid=3002, studentid=uid,
                   takenbyid=4, statusid=present, statusset="0")
        assert out is None
        session = call(p, http, "mod_attendance_get_session", sessionid=3002)
        assert {"studentid": uid, "statusid": str(present)}.items() <= next(
            log for log in session["attendance_log"] if log["studentid"] == uid).items()
        assert session["lasttakenby"] == 4
        assert not w.activity_completed(w.by_id[uid], c, 503)
        assert p.pushes == [{**p.pushes[0], "kind": "moodle.attendance", "studentid": uid,
                             "sessionid": 3002, "acronym": "P"}]
        added = call(p, http, "mod_attendance_add_session", attendanceid=7,
                     sessiontime=int(time.time()) + 86400, duration=7200)
        assert set(added) == {"sessionid"} and p.world.session(added["sessionid"])


# --- seeding -----------------------------------------------------------------
def test_demo_seed_is_deterministic_with_known_counts():
    a, b = demo_world(7, now=1_790_000_000), demo_world(7, now=1_790_000_000)
    assert [(u.username, u.email, u.progress[42].criteria_done) for u in a.learners] == \
        [(u.username, u.email, u.progress[42].criteria_done) for u in b.learners]
    c = a.courses[0]
    assert (c.id, c.shortname, [x.cmid for x in c.activities]) == (42, "SNT-HYB-2026",
                                                                   [501, 502, 503, 504])
    assert [s.id for s in c.sessions] == [3001, 3002] and c.attendance_id == 7
    ls = a.learners
    assert len(ls) == 40
    assert sum(a.course_completed(u, c) for u in ls) == 12
    assert sum(a.course_completed(u, c) and a.activity_completed(u, c, 503) for u in ls) == 12
    assert sum(a.activity_completed(u, c, 503) for u in ls) == 17
    assert sum(a.attended(u, c) for u in ls) == 20
    assert sum(u.progress[42].lastcourseaccess == 0 for u in ls) == 7
    assert sum(not u.email for u in ls) == 2
    assert sum(u.lang == "fr" for u in ls) == 30
    emails = [u.email for u in ls if u.email]
    assert len(set(emails)) == len(emails) and len({u.username for u in ls}) == 40
    other = demo_world(8, now=1_790_000_000)
    assert [u.username for u in other.learners] != [u.username for u in ls]


def test_mutate_gives_newer_lastcourseaccess():
    w = demo_world(7)
    before = {u.id: u.progress[42].lastcourseaccess for u in w.learners}
    changed = w.mutate(random.Random(1), 5)
    assert len(set(changed)) == 5
    for u in w.learners:
        now = u.progress[42].lastcourseaccess
        assert (now > before[u.id]) if u.id in changed else (now == before[u.id])


def test_scale_seeding_is_served():
    w = scale_world(7, 20_000, courses=2)  # its time is bench/sync.py's `seed_seconds`
    assert len(w.learners) == 20_000 and [c.id for c in w.courses] == [42, 43]
    assert scale_world(7, 300, 2).learners[5].progress.keys() == \
        scale_world(7, 300, 2).learners[5].progress.keys()
    with SandboxPlatform(learners=5000, courses=2, profile="scale") as p, \
            requests.Session() as http:
        assert p.course_ids == ["42", "43"]
        page = call(p, http, "core_enrol_get_enrolled_users", courseid=43,
                    **opts(limitfrom=1000, limitnumber=1000, userfields="id,email"))
        assert len(page) == 1000
        assert p.requests_by_function["core_enrol_get_enrolled_users"] == 1


def test_login_token_mutate_and_cli_snippet(sb: SandboxPlatform, http: requests.Session):
    url = f"{sb.base_url}/login/token.php"
    ok = http.post(url, data={"username": "badgebridge", "password": sb.password,
                              "service": "badge_bridge"}).json()
    assert ok == {"token": sb.token, "privatetoken": None}
    bad = http.post(url, data={"username": "badgebridge", "password": "x",
                               "service": "badge_bridge"}).json()
    assert bad["errorcode"] == "invalidlogin" and "exception" not in bad
    with SandboxPlatform(seed=7) as p:
        before = {u.id: u.progress[42].lastcourseaccess for u in p.world.learners}
        changed = p.mutate(3)
        roster = call(p, http, "core_enrol_get_enrolled_users", courseid=42)
        newer = {u["id"] for u in roster if u["id"] in before
                 and u["lastcourseaccess"] > before[u["id"]]}
        assert newer == set(changed)
    toml, exports = snippet(sb, "sandbox_moodle")
    src = tomllib.loads(toml)["sources"]["sandbox_moodle"]
    assert src == {"kind": "moodle", "url": sb.base_url, "courses": ["42"],
                   "token": {"env": "BADGE_BRIDGE_SANDBOX_MOODLE_TOKEN"}}
    assert exports == [f"export BADGE_BRIDGE_SANDBOX_MOODLE_TOKEN={sb.token}"]


def test_course_members_index_follows_the_world():
    """`enrolled()` reads a per-course index (a course costs its own size, not the world's):
    it must see what the world's methods and a direct change do, in `learners` order."""
    w = scale_world(7, 300, courses=3)
    for c in w.courses:
        assert w.enrolled(c.id) == [u for u in w.learners if c.id in u.progress
                                    and u.progress[c.id].enrolled]
    c0 = w.courses[0]
    outsider = next(u for u in w.learners if c0.id not in u.progress)
    w.set_activity(outsider, c0, c0.activities[0].cmid, 1)  # a Progress, not enrolled
    assert outsider not in w.enrolled(c0.id)
    outsider.progress[c0.id].enrolled = True
    assert outsider in w.enrolled(c0.id)
    first = w.enrolled(c0.id)[0]
    first.progress[c0.id].enrolled = False
    assert first not in w.enrolled(c0.id)
    newcomer = dataclasses.replace(w.learners[0], id=99_999, username="newcomer", progress={
        c0.id: Progress(enrolled=True)})
    w.learners.append(newcomer)
    w.reindex()
    assert w.enrolled(c0.id)[-1] is newcomer and w.by_id[99_999] is newcomer


def test_users_by_id_are_read_by_index_in_id_order():
    with SandboxPlatform(learners=40, seed=7) as p, requests.Session() as http:
        a, b = p.world.learners[3].id, p.world.learners[1].id
        got = call(p, http, "core_user_get_users_by_field", field="id",
                   **{"values[0]": str(max(a, b)), "values[1]": "424242",
                      "values[2]": str(min(a, b)), "values[3]": "x"})
        assert [u["id"] for u in got] == sorted([a, b])
        assert got[0] == json.loads(json.dumps(fns.user_row(p, p.world.by_id[min(a, b)])))
