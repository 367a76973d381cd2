"""Transient faults in both dialects: a client that retries converges to the fault-free data,
a faulted push was never applied, cursor pages duplicated or reordered lose nothing."""

from __future__ import annotations

from typing import Any

import requests

from sandbox import SandboxPlatform


def token(sb: SandboxPlatform, http: requests.Session) -> dict[str, str]:
    r = http.post(f"{sb.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": sb.client_id,
        "client_secret": sb.client_secret, "token_type": "jwt"})
    assert r.status_code == 200
    return {"Authorization": f"JWT {r.json()['access_token']}"}


def moodle_call(http: requests.Session, sb: SandboxPlatform, fn: str,
                **params: Any) -> Any:
    """A client with retries: 5xx/429, unparsable JSON and wrong types are retried."""
    for _ in range(30):
        r = http.post(f"{sb.base_url}/webservice/rest/server.php", data={
            "wstoken": sb.token, "wsfunction": fn, "moodlewsrestformat": "json", **params})
        if r.status_code != 200:
            continue
        try:
            body = r.json()
        except ValueError:
            continue
        if _well_typed(body):
            return body
    raise AssertionError("no clean answer after 30 tries")


def _well_typed(node: Any) -> bool:
    if isinstance(node, dict):
        for k in ("id", "userid", "cmid", "state", "timecompleted", "lastcourseaccess"):
            if k in node and node[k] is not None and not isinstance(node[k], int):
                return False
        if "completed" in node and not isinstance(node["completed"], bool):
            return False
        return all(_well_typed(v) for v in node.values())
    if isinstance(node, list):
        return all(_well_typed(v) for v in node)
    return True


def moodle_snapshot(http: requests.Session, sb: SandboxPlatform) -> dict[int, Any]:
    roster: dict[int, Any] = {}
    start = 0
    while True:
        page = moodle_call(http, sb, "core_enrol_get_enrolled_users", courseid=42, **{
            "options[0][name]": "limitfrom", "options[0][value]": start,
            "options[1][name]": "limitnumber", "options[1][value]": 10})
        roster.update({u["id"]: u["lastcourseaccess"] for u in page})
        if len(page) < 10:
            break
        start += 10
    learners = {u.id for u in sb.world.learners}
    out = {}
    for uid, last in sorted(roster.items()):
        if uid in learners:
            statuses = moodle_call(http, sb, "core_completion_get_activities_completion_status",
                                   courseid=42, userid=uid)["statuses"]
            # rows may come reordered or duplicated: key them
            out[uid] = (last, sorted({s["cmid"]: s for s in statuses}.items()))
    return out


def test_faults_are_transient_and_retrying_clients_converge():
    with SandboxPlatform(seed=3, now=1_790_000_000) as clean, requests.Session() as http:
        expected = moodle_snapshot(http, clean)
    with SandboxPlatform(seed=3, now=1_790_000_000, fault_rate=0.5, retry_after=0,
                         slow_delay=0.001) as faulty, requests.Session() as http:
        got = moodle_snapshot(http, faulty)
        injected = faulty.faults.injected
    assert got == expected
    assert {"500", "429"} <= set(injected) and len(injected) >= 5, injected
    assert faulty.request_count > clean.request_count


def test_a_broken_answer_is_followed_by_a_clean_one():
    with SandboxPlatform(seed=11, fault_rate=1.0, retry_after=0, slow_delay=0.001) as p, \
            requests.Session() as http:
        data = {"wstoken": p.token, "wsfunction": "core_completion_get_course_completion_status",
                "moodlewsrestformat": "json", "courseid": 42, "userid": p.world.learners[0].id}
        url = f"{p.base_url}/webservice/rest/server.php"
        p.set_fault_rate(0.0)
        expected = http.post(url, data=data).json()
        p.set_fault_rate(1.0)
        broken = 0
        for _ in range(40):
            r = http.post(url, data=data)
            try:
                ok = r.status_code == 200 and r.json() == expected
            except ValueError:
                ok = False
            if not ok:
                broken += 1
                assert r.status_code != 429 or r.headers["Retry-After"] == "0"
                assert http.post(url, data=data).json() == expected  # the retry is clean
        assert broken >= 10
        assert {"500", "429", "truncate", "wrongtype"} <= set(p.faults.injected)


def test_faulted_pushes_were_never_applied():
    with SandboxPlatform(seed=7, fault_rate=0.6, retry_after=0, slow_delay=0.001) as p, \
            requests.Session() as http:
        targets = [u.id for u in p.world.learners[:10]]
        for uid in targets:
            out = moodle_call(http, p, "core_completion_override_activity_completion_status",
                              userid=uid, cmid=503, newstate=1)
            assert out["state"] == 1
        assert [x["userid"] for x in p.pushes] == targets  # each applied exactly once
        assert p.request_count > len(targets)


def test_openedx_cursor_faults_duplicate_and_reorder_but_lose_nothing():
    with SandboxPlatform("openedx", profile="scale", learners=300, seed=5, retry_after=0,
                         slow_delay=0.001) as p, requests.Session() as http:
        h = token(p, http)
        p.set_fault_rate(0.4)
        seen: list[str] = []
        url: str | None = f"{p.base_url}/api/enrollment/v1/enrollments?page_size=20"
        for _ in range(1000):  # a bound on requests, not on time: 15 pages and their faults
            if url is None:
                break
            r = http.get(url, headers=h)
            if r.status_code != 200:
                continue
            try:
                body = r.json()
            except ValueError:
                continue
            seen += [e["user"] for e in body["results"]]
            url = body["next"]
        assert url is None
        assert set(seen) == {u.username for u in p.world.learners}
        assert p.requests_by_function["enrollments"] >= 15
