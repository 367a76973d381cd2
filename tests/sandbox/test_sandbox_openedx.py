"""The sandbox's Open edX / FUN dialect over real HTTP (shapes of the reference fixtures,
auth, pagination, completion-batch), and transient faults in both dialects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import SandboxPlatform

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIX / f"{name}.json").read_text(encoding="utf-8"))


def keys(obj: Any, path: str = "$", out: set[str] | None = None) -> set[str]:
    out = set() if out is None else out
    out.add(path)
    if isinstance(obj, dict):
        for k, v in obj.items():
            keys(v, f"{path}.{k}" if not path.endswith("blocks") else f"{path}.*", out)
    elif isinstance(obj, list):
        for v in obj:
            keys(v, f"{path}[]", out)
    return out


def same_keys(ours: Any, name: str, ignore: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    a, b = keys(ours) - ignore, keys(fixture(name)) - ignore
    assert a == b, f"only ours: {a - b}; only fixture: {b - a}"


def token(sb: SandboxPlatform, http: requests.Session, **extra: str) -> dict[str, str]:
    r = http.post(f"{sb.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": sb.client_id,
        "client_secret": sb.client_secret, "token_type": "jwt", **extra})
    assert r.status_code == 200
    return {"Authorization": f"JWT {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def fun() -> Iterator[SandboxPlatform]:
    with SandboxPlatform("fun", seed=7) as p:
        yield p


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def follow(http: requests.Session, url: str, headers: dict[str, str],
           params: Any = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        r = http.get(next_url, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["results"]
        next_url = body.get("next") or body.get("pagination", {}).get("next")
        params = None
    return rows


def test_token_and_auth(fun: SandboxPlatform, http: requests.Session):
    r = http.post(f"{fun.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": fun.client_id,
        "client_secret": fun.client_secret, "token_type": "jwt"})
    same_keys(r.json(), "openedx/oauth2_access_token_jwt")
    assert r.json()["token_type"] == "JWT" and r.json()["access_token"].count(".") == 2
    bad = http.post(f"{fun.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": fun.client_id, "client_secret": "x"})
    assert bad.status_code == 401
    url = f"{fun.base_url}/api/enrollment/v1/enrollments"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    with SandboxPlatform("openedx", token_ttl=-5) as short:
        expired = token(short, http)
        r = http.get(f"{short.base_url}/api/enrollment/v1/enrollments", headers=expired)
        assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_read_shapes_and_pagination(fun: SandboxPlatform, http: requests.Session):
    h, key, base = token(fun, http), fun.course_ids[0], fun.base_url
    assert key == "course-v1:FUN+SNT+2026_T1"
    first = http.get(f"{base}/api/enrollment/v1/enrollments",
                     params={"course_id": key, "page_size": "15"}, headers=h).json()
    same_keys(first, "openedx/enrollment_v1_enrollments_cursor")
    assert "count" not in first and "cursor=" in first["next"] and len(first["results"]) == 15
    enrolled = follow(http, f"{base}/api/enrollment/v1/enrollments", h,
                      {"course_id": key, "page_size": 15})
    assert sorted(e["user"] for e in enrolled) == sorted(u.username for u in fun.world.learners)
    grades = follow(http, f"{base}/api/grades/v1/courses/{key}/", h)
    assert len(grades) == 40
    page = http.get(f"{base}/api/grades/v1/courses/{key}/", headers=h).json()
    same_keys(page, "openedx/grades_v1_course_all_users_cursor")
    u = next(x for x in fun.world.learners if x.progress[42].grade)
    single = http.get(f"{base}/api/grades/v1/courses/{key}/", params={"username": u.username},
                      headers=h).json()
    same_keys(single, "openedx/grades_v1_course_single_user")
    assert single[0]["percent"] == u.progress[42].grade
    certs = http.get(f"{base}/api/certificates/v0/certificates/{u.username}/", headers=h).json()
    same_keys(certs, "openedx/certificates_v0_user_list")
    accounts = http.get(f"{base}/api/user/v1/accounts", params={"username": u.username},
                        headers=h).json()
    same_keys(accounts, "openedx/user_v1_accounts_by_email",
              ignore={"$[].language_proficiencies[]", "$[].language_proficiencies[].code"})
    agg = http.get(f"{base}/completion-aggregator/v1/course/{key}/",
                   params={"requested_fields": "username"}, headers=h).json()
    same_keys(agg, "openedx/completion_aggregator_v1_course_detail")
    assert len(follow(http, f"{base}/completion-aggregator/v1/course/{key}/", h)) == 40
    blocks = http.get(f"{base}/api/courses/v1/blocks/", headers=h, params={
        "course_id": key, "username": u.username, "depth": "all",
        "requested_fields": "children,graded,format,completion"}).json()
    same_keys(blocks, "openedx/course_blocks_v1")
    presence = "block-v1:FUN+SNT+2026_T1+type@html+block@presence"
    assert blocks["blocks"][presence]["complete"] == fun.world.activity_completed(
        u, fun.world.courses[0], 503)
    detail = http.get(f"{base}/api/certificates/v0/certificates/{u.username}/courses/{key}/",
                      headers=h).json()
    same_keys(detail, "openedx/certificates_v0_user_course_detail")
    failing = next(x for x in fun.world.learners if not x.progress[42].grade)
    r = http.get(f"{base}/api/certificates/v0/certificates/{failing.username}/courses/{key}/",
                 headers=h)
    assert r.status_code == 404
    assert r.json() == fixture("openedx/certificates_v0_error_no_certificate")
    failing.progress[42].enrolled = False
    r = http.get(f"{base}/api/grades/v1/courses/{key}/", params={"username": failing.username},
                 headers=h)
    failing.progress[42].enrolled = True
    assert r.status_code == 404 and r.json() == fixture("openedx/grades_v1_error_not_enrolled")
    fun_grade = http.get(f"{base}/fun/api/grades/{key}/{u.username}",
                         headers={"X-Edx-Api-Key": fun.api_key}).json()
    assert set(fun_grade) == set(fixture("joanie/openedx_fun_grades")) and fun_grade["passed"]


def test_completion_batch_push():
    with SandboxPlatform("openedx", seed=7) as p, requests.Session() as http:
        w, c = p.world, p.world.courses[0]
        h, key = token(p, http), p.course_ids[0]
        u = next(x for x in w.learners if w.attended(x, c) and not w.course_completed(x, c)
                 and w.activity_completed(x, c, 502))
        block = key.replace("course-v1:", "block-v1:") + "+type@html+block@presence"
        url = f"{p.base_url}/api/completion/v1/completion-batch"
        r = http.post(url, json={"username": u.username, "course_key": key,
                                 "blocks": {block: 1.0}}, headers=h)
        assert r.status_code == 200 and r.json() == fixture("openedx/completion_batch_response")
        assert w.activity_completed(u, c, 503) and w.course_completed(u, c)
        assert p.pushes == [{**p.pushes[0], "kind": "openedx.completion_batch",
                             "username": u.username, "blocks": {block: 1.0}}]
        u.progress[42].enrolled = False
        r = http.post(url, json={"username": u.username, "course_key": key,
                                 "blocks": {block: 1.0}}, headers=h)
        assert r.status_code == 400
        assert r.json() == fixture("openedx/completion_batch_error_not_enrolled")
        assert len(p.pushes) == 1


# --- faults ------------------------------------------------------------------
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
