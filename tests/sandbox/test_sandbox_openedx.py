"""The sandbox's Open edX dialect answers as a current edx-platform does: one test per behaviour
read in the server code (lms-api.md §7.1), each naming the file where it is decided.

Paths: edx-platform unless another repository is named; openedx/completion at d0d6346;
open-craft/openedx-completion-aggregator at 2dfb6e2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import SandboxPlatform
from sandbox.edx_blocks import presence_block, presence_info_block, usage_key

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


def token(sb: SandboxPlatform, http: requests.Session) -> dict[str, str]:
    r = http.post(f"{sb.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": sb.client_id,
        "client_secret": sb.client_secret, "token_type": "jwt"})
    assert r.status_code == 200
    return {"Authorization": f"JWT {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def lms() -> Iterator[SandboxPlatform]:
    with SandboxPlatform("openedx", seed=7) as p:
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


class Clock:
    """A clock the test moves, so a throttle window passes without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_and_auth(lms: SandboxPlatform, http: requests.Session) -> None:
    r = http.post(f"{lms.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": lms.client_id,
        "client_secret": lms.client_secret, "token_type": "jwt"})
    same_keys(r.json(), "openedx/oauth2_access_token_jwt")
    assert r.json()["token_type"] == "JWT" and r.json()["access_token"].count(".") == 2
    bad = http.post(f"{lms.base_url}/oauth2/access_token", data={
        "grant_type": "client_credentials", "client_id": lms.client_id, "client_secret": "x"})
    assert bad.status_code == 401
    url = f"{lms.base_url}/api/enrollment/v1/enrollments"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    with SandboxPlatform("openedx", token_ttl=-5) as short:
        expired = token(short, http)
        r = http.get(f"{short.base_url}/api/enrollment/v1/enrollments", headers=expired)
        assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_read_shapes_and_pagination(lms: SandboxPlatform, http: requests.Session) -> None:
    h, key, base = token(lms, http), lms.course_ids[0], lms.base_url
    assert key == "course-v1:SandboxX+SNT+2026_T1"
    first = http.get(f"{base}/api/enrollment/v1/enrollments",
                     params={"course_id": key, "page_size": "15"}, headers=h).json()
    same_keys(first, "openedx/enrollment_v1_enrollments_cursor")
    assert "count" not in first and "cursor=" in first["next"] and len(first["results"]) == 15
    enrolled = follow(http, f"{base}/api/enrollment/v1/enrollments", h,
                      {"course_id": key, "page_size": 15})
    assert sorted(e["user"] for e in enrolled) == sorted(u.username for u in lms.world.learners)
    assert len(follow(http, f"{base}/api/grades/v1/courses/{key}/", h)) == 40
    same_keys(http.get(f"{base}/api/grades/v1/courses/{key}/", headers=h).json(),
              "openedx/grades_v1_course_all_users_cursor")
    u = next(x for x in lms.world.learners if x.progress[42].grade)
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
        "requested_fields": "children,graded,format,completion,complete"}).json()
    same_keys(blocks, "openedx/course_blocks_v1")
    detail = http.get(f"{base}/api/certificates/v0/certificates/{u.username}/courses/{key}/",
                      headers=h).json()
    same_keys(detail, "openedx/certificates_v0_user_course_detail")
    failing = next(x for x in lms.world.learners if not x.progress[42].grade)
    r = http.get(f"{base}/api/certificates/v0/certificates/{failing.username}/courses/{key}/",
                 headers=h)
    assert r.status_code == 404
    assert r.json() == fixture("openedx/certificates_v0_error_no_certificate")
    failing.progress[42].enrolled = False
    r = http.get(f"{base}/api/grades/v1/courses/{key}/", params={"username": failing.username},
                 headers=h)
    failing.progress[42].enrolled = True
    assert r.status_code == 404 and r.json() == fixture("openedx/grades_v1_error_not_enrolled")


def test_the_grades_list_gives_an_email_only_for_the_masters_track(http: requests.Session) -> None:
    """grades/rest_api/v1/utils.py `_serialize_user_grade`: `email` is the address for an
    enrollment in the masters track, "" otherwise; the single-user form always gives ""."""
    with SandboxPlatform("openedx", learners=12, seed=3) as p:
        h, key = token(p, http), p.course_ids[0]
        masters = p.world.learners[0]
        masters.progress[42].mode = "masters"
        rows = {g["username"]: g["email"] for g in
                follow(http, f"{p.base_url}/api/grades/v1/courses/{key}/", h)}
        single = http.get(f"{p.base_url}/api/grades/v1/courses/{key}/", headers=h,
                          params={"username": masters.username}).json()
    assert rows.pop(masters.username) == masters.email != ""
    assert set(rows.values()) == {""}
    assert single[0]["email"] == ""


def test_learner_data_needs_a_global_staff_caller(http: requests.Session) -> None:
    """enrollments/views.py CourseEnrollmentsApiListView: IsAdminUser; grades (utils.py
    GradeViewMixin, JWT_RESTRICTED_APPLICATION_OR_USER_ACCESS), the aggregator's all-learners
    view (completion_aggregator/api/common.py) and another learner's completion
    (completion/api/permissions.py IsStaffOrOwner) refuse a caller who is not staff;
    `GET /api/enrollment/v1/roles/` tells whether the caller is."""
    with SandboxPlatform("openedx", learners=5, seed=3, global_staff=False) as p:
        h, key, base = token(p, http), p.course_ids[0], p.base_url
        u = p.world.learners[0].username
        refused = {
            "enrollments": http.get(f"{base}/api/enrollment/v1/enrollments",
                                    params={"course_id": key}, headers=h),
            "grades": http.get(f"{base}/api/grades/v1/courses/{key}/", headers=h),
            "aggregator": http.get(f"{base}/completion-aggregator/v1/course/{key}/", headers=h),
            "blocks": http.get(f"{base}/api/courses/v1/blocks/", headers=h,
                               params={"course_id": key, "username": u}),
            "completion-batch": http.post(f"{base}/api/completion/v1/completion-batch", headers=h,
                                          json={"username": u, "course_key": key, "blocks": {}}),
        }
        roles = http.get(f"{base}/api/enrollment/v1/roles/", headers=h).json()
        account = http.get(f"{base}/api/user/v1/accounts", params={"username": u}, headers=h)
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert roles == {"roles": [], "is_staff": False}
    assert "email" not in account.json()[0]  # a private profile, seen by a non-staff caller


def test_a_restricted_application_reads_no_learner_data(http: requests.Session) -> None:
    """oauth_dispatch: a restricted DOT application's token says `is_restricted`; the views'
    JwtRestrictedApplication checks then refuse it the learners' data."""
    with SandboxPlatform("openedx", learners=5, seed=3, restricted=True) as p:
        h, key = token(p, http), p.course_ids[0]
        grades = http.get(f"{p.base_url}/api/grades/v1/courses/{key}/", headers=h)
        roles = http.get(f"{p.base_url}/api/enrollment/v1/roles/", headers=h)
    assert grades.status_code == 403 and roles.status_code == 200


def test_the_enrollment_list_is_throttled_unless_the_api_key_comes_with_the_token(
        http: requests.Session) -> None:
    """enrollments/views.py EnrollmentUserThrottle: 120 requests a minute for staff (40 for
    other users); a valid X-Edx-Api-Key (settings.EDX_API_KEY) bypasses it; the 429 carries
    Retry-After."""
    clock = Clock()
    with SandboxPlatform("openedx", learners=3, seed=3, clock=clock) as p:
        h, url = token(p, http), f"{p.base_url}/api/enrollment/v1/enrollments"
        codes = [http.get(url, headers=h).status_code for _ in range(121)]
        refused = http.get(url, headers=h)
        with_key = [http.get(url, headers={**h, "X-Edx-Api-Key": p.api_key}).status_code
                    for _ in range(150)]
        clock.now += 61
        after_a_minute = http.get(url, headers=h).status_code
    assert codes[:120] == [200] * 120 and codes[120] == 429
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled. Expected available in")
    assert set(with_key) == {200} and after_a_minute == 200
    with SandboxPlatform("openedx", learners=3, seed=3, clock=Clock(), global_staff=False) as p:
        h = token(p, http)
        url = f"{p.base_url}/api/enrollment/v1/enrollment/{p.world.learners[0].username}," \
              f"{p.course_ids[0]}"
        user_rate = [http.get(url, headers=h).status_code for _ in range(41)]
    assert user_rate[40] == 429 and user_rate.count(429) == 1


def test_an_api_key_alone_authenticates_nobody(lms: SandboxPlatform, http: requests.Session) -> None:
    """openedx/core/lib/api/permissions.py ApiKeyHeaderPermission is a permission, used by the
    single-enrollment view (ApiKeyHeaderPermissionIsAuthenticated); every other view needs a
    user's token and answers 401 to the key alone."""
    key, base, k = lms.course_ids[0], lms.base_url, {"X-Edx-Api-Key": lms.api_key}
    u = lms.world.learners[0].username
    urls = [f"{base}/api/enrollment/v1/enrollments?course_id={key}",
            f"{base}/api/grades/v1/courses/{key}/",
            f"{base}/api/certificates/v0/certificates/{u}/courses/{key}/",
            f"{base}/api/user/v1/accounts?username={u}",
            f"{base}/completion-aggregator/v1/course/{key}/"]
    assert [http.get(url, headers=k).status_code for url in urls] == [401] * len(urls)
    batch = http.post(f"{base}/api/completion/v1/completion-batch", headers=k,
                      json={"username": u, "course_key": key, "blocks": {}})
    assert batch.status_code == 401
    one = http.get(f"{base}/api/enrollment/v1/enrollment/{u},{key}", headers=k)
    assert one.status_code == 200 and one.json()["user"] == u
    same_keys(one.json(), "openedx/enrollment_v1_enrollment_detail",
              ignore={"$.course_details.course_modes[].bulk_sku"})


def test_grade_pages_take_any_size_enrollment_pages_at_most_100(http: requests.Session) -> None:
    """grades/rest_api/v1/utils.py CourseEnrollmentPagination.get_page_size: no maximum;
    enrollments/paginators.py CourseEnrollmentsApiListPagination: max_page_size 100."""
    with SandboxPlatform("openedx", profile="scale", learners=250, seed=3) as p:
        h, key = token(p, http), p.course_ids[0]
        grades = http.get(f"{p.base_url}/api/grades/v1/courses/{key}/", headers=h,
                          params={"page_size": 1000}).json()
        enrolled = http.get(f"{p.base_url}/api/enrollment/v1/enrollments", headers=h,
                            params={"course_id": key, "page_size": 1000}).json()
    assert len(grades["results"]) == 250 and grades["next"] is None
    assert len(enrolled["results"]) == 100 and enrolled["next"]


def test_a_certificate_appears_some_time_after_the_learner_passes(http: requests.Session) -> None:
    """certificates/signals.py listen_for_passing_grade: passing starts a generation task (only
    with auto-generation on); until it ran, certificates/apis/v0/views.py answers
    `no_certificate_for_user`. An unparsable course key is a 404 `course_id_not_valid`."""
    for auto in (True, False):
        with SandboxPlatform("openedx", learners=40, seed=7, auto_certificates=auto,
                             certificate_delay=3600) as p:
            h, key, c = token(p, http), p.course_ids[0], p.world.courses[0]
            u = next(x for x in p.world.learners if not x.progress[42].grade)
            u.progress[42].grade, u.progress[42].gradetime = 0.9, p.world.now
            url = f"{p.base_url}/api/certificates/v0/certificates/{u.username}/courses/{key}/"
            passed = http.get(f"{p.base_url}/api/grades/v1/courses/{key}/", headers=h,
                              params={"username": u.username}).json()[0]["passed"]
            right_away = http.get(url, headers=h)
            p.world.now += 3600
            an_hour_later = http.get(url, headers=h)
            bad_key = http.get(f"{p.base_url}/api/certificates/v0/certificates/{u.username}/"
                               f"courses/not-a-course-key/", headers=h)
        assert passed and c.key == key
        assert right_away.json() == {"error_code": "no_certificate_for_user"}
        assert an_hour_later.status_code == (200 if auto else 404)
        assert bad_key.status_code == 404 and bad_key.json() == {"error_code": "course_id_not_valid"}


def test_only_leaves_carry_a_completion_and_staff_only_blocks_are_absent_for_learners(
        lms: SandboxPlatform, http: requests.Session) -> None:
    """course_api/blocks/transformers/block_completion.py: aggregator blocks (course, chapter,
    sequential, vertical) carry `completion: null`; a staff-only block is filtered out of a
    learner's tree but listed with all_blocks; blocks/forms.py `_verify_other_user` does not
    ask whether the learner is enrolled (200), only whether they exist (404)."""
    h, key, base, c = token(lms, http), lms.course_ids[0], lms.base_url, lms.world.courses[0]
    u = next(x for x in lms.world.learners if lms.world.course_completed(x, c))
    tree = http.get(f"{base}/api/courses/v1/blocks/", headers=h, params={
        "course_id": key, "username": u.username, "depth": "all",
        "requested_fields": "completion"}).json()["blocks"]
    by_type: dict[str, set[Any]] = {}
    for b in tree.values():
        by_type.setdefault(b["type"], set()).add(b["completion"])
    staff = http.get(f"{base}/api/courses/v1/blocks/", headers=h, params={
        "course_id": key, "all_blocks": "true", "depth": "all"}).json()["blocks"]
    notes = usage_key(c, "html", "staff_notes")
    u.progress[42].enrolled = False
    not_enrolled = http.get(f"{base}/api/courses/v1/blocks/", headers=h, params={
        "course_id": key, "username": u.username, "requested_fields": "completion"})
    u.progress[42].enrolled = True
    unknown = http.get(f"{base}/api/courses/v1/blocks/", headers=h,
                       params={"course_id": key, "username": "nobody_here"})
    assert {t: by_type[t] for t in ("course", "chapter", "sequential", "vertical")} == \
        dict.fromkeys(("course", "chapter", "sequential", "vertical"), {None})
    assert by_type["problem"] == by_type["staffgradedxblock"] == {1.0}
    assert notes not in tree and notes in staff
    assert not_enrolled.status_code == 200 and unknown.status_code == 404


def test_an_html_block_completes_when_viewed_a_staff_graded_one_does_not(
        http: requests.Session) -> None:
    """completion/services.py can_mark_block_complete_on_view: a completable block with no score
    and no custom completion (html) is marked complete on view; a scored one is not. Nothing is
    written while the completion switch is off."""
    with SandboxPlatform("openedx", learners=40, seed=7) as p:
        c = p.world.courses[0]
        u = next(x for x in p.world.learners if not x.progress[42].visited
                 and not p.world.activity_completed(x, c, 503))
        h = token(p, http)

        def completion(usage: str) -> Any:
            tree = http.get(f"{p.base_url}/api/courses/v1/blocks/", headers=h, params={
                "course_id": c.key, "username": u.username,
                "requested_fields": "completion"}).json()["blocks"]
            return tree[usage]["completion"]

        before = completion(presence_info_block(c)), completion(presence_block(c))
        viewed = p.view_block(u.username, presence_info_block(c)), \
            p.view_block(u.username, presence_block(c))
        after = completion(presence_info_block(c)), completion(presence_block(c))
    assert before == (0.0, 0.0) and viewed == (True, False) and after == (1.0, 0.0)
    with SandboxPlatform("openedx", learners=40, seed=7, completion_tracking=False) as p:
        c = p.world.courses[0]
        u = next(x for x in p.world.learners if not x.progress[42].visited)
        assert p.view_block(u.username, presence_info_block(c)) is False


def test_completion_batch_needs_the_waffle_switch_and_an_empty_batch_tells_which(
        http: requests.Session) -> None:
    """completion/api/v1/views.py `_validate_and_parse` checks the waffle switch
    completion.enable_completion_tracking (off by default, waffle.py) before anything: 400
    naming `submit_batch_completion`. With the switch on, an empty `blocks` writes nothing:
    200 for an enrolled learner, 400 "User is not enrolled in course." otherwise."""
    answers = {}
    for switch in (False, True):
        with SandboxPlatform("openedx", learners=10, seed=3, completion_tracking=switch) as p:
            h, key = token(p, http), p.course_ids[0]
            u = p.world.learners[0]
            url = f"{p.base_url}/api/completion/v1/completion-batch"
            answers[switch] = http.post(url, headers=h, json={
                "username": u.username, "course_key": key, "blocks": {}})
            u.progress[42].enrolled = False
            answers[f"{switch}-unenrolled"] = http.post(url, headers=h, json={
                "username": u.username, "course_key": key, "blocks": {}})
            assert p.pushes == []
    assert answers[False].status_code == 400 and "submit_batch_completion" in \
        answers[False].json()["detail"]
    assert answers["False-unenrolled"].json() == answers[False].json()
    assert answers[True].status_code == 200 and answers[True].json() == {"detail": "ok"}
    assert answers["True-unenrolled"].json() == fixture(
        "openedx/completion_batch_error_not_enrolled")


def test_completion_batch_accepts_an_unknown_block_and_keeps_the_last_value(
        http: requests.Session) -> None:
    """completion/api/v1/views.py `_validate_and_parse_block_key` parses the key and checks its
    course, never that the block exists: a mistyped key is a 200 and a row. models.py
    `submit_completion` overwrites the stored value: the last one written wins."""
    with SandboxPlatform("openedx", learners=40, seed=7) as p:
        c, h = p.world.courses[0], token(p, http)
        u = next(x for x in p.world.learners if p.world.activity_completed(x, c, 503))
        url = f"{p.base_url}/api/completion/v1/completion-batch"
        typo = presence_block(c).replace("block@presence", "block@presense")
        orphan = http.post(url, headers=h, json={"username": u.username, "course_key": c.key,
                                                 "blocks": {typo: 1.0}})
        lowered = http.post(url, headers=h, json={"username": u.username, "course_key": c.key,
                                                  "blocks": {presence_block(c): 0.25}})
        other_course = http.post(url, headers=h, json={
            "username": u.username, "course_key": c.key,
            "blocks": {"block-v1:Other+X+1+type@html+block@a": 1.0}})
        assert orphan.json() == lowered.json() == {"detail": "ok"}
        assert u.progress[42].block_values[typo] == 1.0
        assert u.progress[42].block_values[presence_block(c)] == 0.25
        assert not p.world.activity_completed(u, c, 503)
        assert other_course.status_code == 400 and "is not in context" in other_course.json()["detail"]


def test_completion_batch_push(http: requests.Session) -> None:
    with SandboxPlatform("openedx", seed=7) as p:
        w, c = p.world, p.world.courses[0]
        h, key = token(p, http), p.course_ids[0]
        u = next(x for x in w.learners if w.attended(x, c) and not w.course_completed(x, c)
                 and w.activity_completed(x, c, 502))
        block = presence_block(c)
        assert "type@staffgradedxblock+" in block
        url = f"{p.base_url}/api/completion/v1/completion-batch"
        r = http.post(url, json={"username": u.username, "course_key": key,
                                 "blocks": {block: 1.0}}, headers=h)
        assert r.status_code == 200 and r.json() == fixture("openedx/completion_batch_response")
        assert w.activity_completed(u, c, 503) and w.course_completed(u, c)
        assert p.pushes == [{**p.pushes[0], "kind": "openedx.completion_batch",
                             "username": u.username, "blocks": {block: 1.0}}]


def test_the_aggregator_is_an_optional_plugin_whose_course_view_lags(http: requests.Session) -> None:
    """openedx-completion-aggregator: mounted at ^completion-aggregator/ (apps.py) only where
    installed (Tutor does not install it), so elsewhere the URL is the LMS's HTML 404; an
    unparsable key is a JSON 404 (api/v1/views.py). The all-learners view reads aggregates
    refreshed by `run_aggregator_service`; one learner's view is recalculated on read;
    `percent` counts every completable block."""
    with SandboxPlatform("openedx", learners=5, seed=3, aggregator=False) as p:
        absent = http.get(f"{p.base_url}/completion-aggregator/v1/course/{p.course_ids[0]}/",
                          headers=token(p, http))
    assert absent.status_code == 404 and absent.headers["Content-Type"].startswith("text/html")
    with SandboxPlatform("openedx", learners=40, seed=7) as p:
        c, h = p.world.courses[0], token(p, http)
        url = f"{p.base_url}/completion-aggregator/v1/course/{c.key}/"
        bad = http.get(f"{p.base_url}/completion-aggregator/v1/course/nonsense/", headers=h)
        u = next(x for x in p.world.learners if x.progress[42].visited
                 and not p.world.activity_completed(x, c, 503))

        def course_view() -> float:
            return next(r["completion"]["percent"] for r in follow(http, url, h)
                        if r["username"] == u.username)

        before = course_view()
        http.post(f"{p.base_url}/api/completion/v1/completion-batch", headers=h, json={
            "username": u.username, "course_key": c.key, "blocks": {presence_block(c): 1.0}})
        stale = course_view()
        single = http.get(url, headers=h, params={"username": u.username}).json()["results"][0]
        p.run_aggregator_service()
        fresh = course_view()
    assert bad.status_code == 404 and bad.json() == {"detail": "Invalid course key: 'nonsense'."}
    assert stale == before < single["completion"]["percent"] == fresh
    assert single["completion"]["possible"] == 4.0  # internet, quiz, info page, attestation


def test_accounts_answer_404_when_none_of_the_users_exists(lms: SandboxPlatform,
                                                          http: requests.Session) -> None:
    """user_api/accounts/views.py AccountViewSet.list: the users found, with `email` and `name`
    for a staff caller; a 404 with an empty body when none exists."""
    h, u = token(lms, http), lms.world.learners[0]
    some = http.get(f"{lms.base_url}/api/user/v1/accounts", headers=h,
                    params={"username": f"{u.username},nobody_at_all"})
    none = http.get(f"{lms.base_url}/api/user/v1/accounts", headers=h,
                    params={"username": "nobody_at_all,nor_this_one"})
    assert [(a["username"], a["email"], a["name"]) for a in some.json()] == \
        [(u.username, u.email, u.fullname)]
    assert some.json()[0]["language_proficiencies"] == []
    assert none.status_code == 404 and none.content == b""


def test_what_doctor_probes_is_answered_as_the_lms_does(lms: SandboxPlatform,
                                                       http: requests.Session) -> None:
    """What `badge-bridge doctor` relies on. enrollments/views.py EnrollmentUserRolesView: any
    authenticated caller (no restricted-application check), `is_staff` the caller's flag;
    EnrollmentView with ApiKeyHeaderPermissionIsAuthenticated (openedx/core/lib/api/
    permissions.py): a wrong key alone is no login (401), the right one reads an enrollment;
    course_api/views.py CourseDetailView: an unknown course key is DRF's 404; completion/api/v1/
    views.py: the service user's own empty batch, not enrolled, is "User is not enrolled in
    course." once the switch is on, and writes nothing."""
    h, key, base = token(lms, http), lms.course_ids[0], lms.base_url
    me = lms.world.service_user.username
    roles = http.get(f"{base}/api/enrollment/v1/roles/", headers=h)
    assert roles.status_code == 200 and roles.json()["is_staff"] is True
    wrong = http.get(f"{base}/api/enrollment/v1/enrollment/{me},{key}",
                     headers={"X-Edx-Api-Key": "not-the-key"})
    right = http.get(f"{base}/api/enrollment/v1/enrollment/{me},{key}",
                     headers={"X-Edx-Api-Key": lms.api_key})
    assert wrong.status_code == 401 and right.status_code == 200
    unknown = http.get(f"{base}/api/courses/v1/courses/course-v1:FUN+NOPE+2026/", headers=h)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not found."}
    pushes = list(lms.pushes)
    own = http.post(f"{base}/api/completion/v1/completion-batch", headers=h,
                    json={"username": me, "course_key": key, "blocks": {}})
    assert own.status_code == 400 and own.json() == {"detail": "User is not enrolled in course."}
    assert lms.pushes == pushes
