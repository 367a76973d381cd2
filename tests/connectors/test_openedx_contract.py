"""Open edX / FUN connector against the recorded Open edX payloads: token handling, cursor
pages, throttling, certificates, and the completion-batch push with its refusals."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from pydantic import ValidationError
from responses import matchers

from bridge.errors import PermanentSourceError
from bridge.model import Attestation, FactKind
from connectors.http import HttpClient
from connectors.openedx import FunConfig, OpenEdxConfig, OpenEdxConnector

from .conftest import FakeState, fixture

LMS = "https://lms.example.org"
COURSE = "course-v1:FUN+SST101+2025_T1"
Q = COURSE.replace(":", "%3A").replace("+", "%2B")  # as it travels in a path
BLOCK = "block-v1:FUN+SST101+2025_T1+type@html+block@presence"


def connector(**overrides: Any) -> OpenEdxConnector:
    cfg = OpenEdxConfig(url=LMS, client_id="bridge", client_secret="s3cret", courses=[COURSE], **overrides)
    return OpenEdxConnector("edx", cfg, http=HttpClient("edx", retries=2, sleep=lambda s: None))


def serve_recorded(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
    first = fixture("openedx/enrollment_v1_enrollments_cursor")
    rsps.get(f"{LMS}/api/enrollment/v1/enrollments", json=first, match=[
        matchers.query_param_matcher({"course_id": COURSE, "page_size": "100"})])
    rsps.get(first["next"], json={"next": None, "previous": None, "results": [
        {"created": "2025-10-04T08:00:00Z", "mode": "honor", "is_active": False,
         "user": "dora_left", "course_id": COURSE}]})
    rsps.get(f"{LMS}/api/grades/v1/courses/{Q}/",
             json=fixture("openedx/grades_v1_course_all_users_cursor"))
    rsps.get(f"{LMS}/completion-aggregator/v1/course/{Q}/",
             json=fixture("openedx/completion_aggregator_v1_course_detail"))
    rsps.get(f"{LMS}/api/user/v1/accounts", json=fixture("openedx/user_v1_accounts_by_email"))
    rsps.get(f"{LMS}/api/certificates/v0/certificates/alice_martin/courses/{Q}/",
             json=fixture("openedx/certificates_v0_user_course_detail"))


def test_a_full_pull_follows_cursors_and_reads_certificates_of_passing_learners_only() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        batch = next(iter(connector().pull(state)))
    facts = {(f.external_id, f.kind): f for f in batch.facts}
    idents = {i.external_id: i for i in batch.identities}
    assert not state.errors
    assert idents["alice_martin"].email == "alice.martin@example.org"
    assert idents["dora_left"].email is None  # recorded without email, not dropped
    assert facts[("dora_left", FactKind.enrolment)].value == 0.0
    assert facts[("bruno_petit", FactKind.grade)].value == pytest.approx(0.45)
    assert facts[("alice_martin", FactKind.course_completion)].value == 1.0
    assert facts[("alice_martin", FactKind.certificate)].status == "downloadable"
    assert ("bruno_petit", FactKind.certificate) not in facts
    auth = [c.request.headers.get("Authorization", "") for c in rsps.calls[1:]]
    assert all(a.startswith("JWT ") for a in auth)


def test_a_rerun_without_change_costs_only_the_paged_passes() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        c = connector()
        state.keep(next(iter(c.pull(state))))
        before = c.http.requests
        again = next(iter(c.pull(state)))
        assert again.facts == []
        # enrollments (2 pages) + grades + aggregator; the token is reused
        assert c.http.requests - before == 4


def test_a_throttled_request_waits_retry_after_then_succeeds() -> None:
    waited: list[float] = []
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
        url = f"{LMS}/api/user/v1/accounts"
        rsps.get(url, status=429, json=fixture("openedx/throttled_429"), headers={"Retry-After": "7"})
        rsps.get(url, json=[])
        c = connector()
        c.http._sleep = waited.append
        assert c._languages(["bruno_petit"]) == {}
    assert waited == [7.0]


def test_an_expired_token_is_renewed_before_the_request() -> None:
    now = [0.0]
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
        rsps.get(f"{LMS}/api/user/v1/accounts", json=[])
        c = connector()
        c.http.auth.clock = lambda: now[0]  # type: ignore[union-attr]
        c._languages(["a"])
        now[0] = 3600 - 30  # inside the 60 s margin
        c._languages(["b"])
        assert c.http.auth.fetched == 2  # type: ignore[union-attr]


def test_bad_client_credentials_are_a_permanent_error() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", status=401, json={"error": "invalid_client"})
        with pytest.raises(PermanentSourceError, match="client credentials refused: invalid_client"):
            connector()._languages(["a"])


def test_a_push_to_a_learner_not_enrolled_is_refused_with_the_platforms_message() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
        rsps.get(f"{LMS}/api/courses/v1/blocks/", json={"root": BLOCK, "blocks": {BLOCK: {"completion": 0.0}}})
        rsps.post(f"{LMS}/api/completion/v1/completion-batch", status=400,
                  json=fixture("openedx/completion_batch_error_not_enrolled"))
        att = Attestation(source="edx", external_id="zoe", username="zoe", course=COURSE,
                          session="s1", target=f"block:{BLOCK}")
        with pytest.raises(PermanentSourceError, match="User is not enrolled in course."):
            connector().push(att)


def test_fun_is_openedx_with_french_and_fun_course_keys() -> None:
    cfg = FunConfig(client_id="x", client_secret="y", courses=[COURSE])
    assert cfg.url == "https://lms.fun-mooc.fr" and cfg.default_lang == "fr"
    with pytest.raises(ValidationError, match="not a FUN course key"):
        FunConfig(client_id="x", client_secret="y", courses=["FUN/SST101/2025"])


def test_concurrent_requests_keep_their_token_while_another_thread_renews_it() -> None:
    """A token renewal must not leave other threads' requests without credentials."""
    from concurrent.futures import ThreadPoolExecutor

    from connectors.openedx.auth import ClientCredentials
    from sandbox import SandboxPlatform

    with SandboxPlatform("openedx", learners=20, seed=3, token_ttl=2) as sb:
        http = HttpClient("lms", retries=2, backoff=0.0, sleep=lambda s: None, pool=8)
        # A margin just under the lifetime: nearly every request renews the token.
        http.auth = ClientCredentials(http, f"{sb.base_url}/oauth2/access_token", sb.client_id,
                                      sb.client_secret, margin=1.99)
        from urllib.parse import urlencode

        url = f"{sb.base_url}/api/enrollment/v1/enrollments?{urlencode({'course_id': sb.course_ids[0]})}"
        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(lambda _: http.request_json("GET", url, endpoint="enrollments"),
                                  range(200)))
    assert all(page["results"] for page in pages)
    assert http.auth.fetched > 1
