"""The `openedx` connector against the recorded Open edX payloads: where addresses come from,
the token and the API key, cursor pages, throttling, the 404s told apart, refusals an
administrator can fix, and the completion-batch push with its checks."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

from bridge.errors import FixableSourceError, PermanentSourceError
from bridge.model import Attestation, FactKind, Identity
from connectors.http import HttpClient
from connectors.openedx import OpenEdxConfig, OpenEdxConnector

from .conftest import FakeState, fixture

LMS = "https://lms.example.org"
COURSE = "course-v1:FUN+SST101+2025_T1"
Q = COURSE.replace(":", "%3A").replace("+", "%2B")  # as it travels in a path
BLOCK = "block-v1:FUN+SST101+2025_T1+type@staffgradedxblock+block@presence"
PAGE_NOT_FOUND = "<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>"


def connector(**overrides: Any) -> OpenEdxConnector:
    cfg = OpenEdxConfig(**{"url": LMS, "client_id": "bridge", "client_secret": "s3cret",
                           "courses": [COURSE], **overrides})
    return OpenEdxConnector("edx", cfg, http=HttpClient("edx", retries=2, sleep=lambda s: None))


def serve_recorded(rsps: responses.RequestsMock, *, aggregator: bool = True) -> None:
    rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
    rsps.get(f"{LMS}/api/courses/v1/courses/{Q}/", json=fixture("openedx/courses_v1_course_detail"))
    first = fixture("openedx/enrollment_v1_enrollments_cursor")
    rsps.get(f"{LMS}/api/enrollment/v1/enrollments", json=first, match=[
        matchers.query_param_matcher({"course_id": COURSE, "page_size": "100"})])
    rsps.get(first["next"], json={"next": None, "previous": None, "results": [
        {"created": "2025-10-04T08:00:00Z", "mode": "honor", "is_active": False,
         "user": "dora_left", "course_id": COURSE}]})
    rsps.get(f"{LMS}/api/grades/v1/courses/{Q}/",
             json=fixture("openedx/grades_v1_course_all_users_cursor"),
             match=[matchers.query_param_matcher({"page_size": "1000"})])
    if aggregator:
        rsps.get(f"{LMS}/completion-aggregator/v1/course/{Q}/",
                 json=fixture("openedx/completion_aggregator_v1_course_detail"))
    else:
        rsps.get(f"{LMS}/completion-aggregator/v1/course/{Q}/", status=404, body=PAGE_NOT_FOUND,
                 content_type="text/html")
    rsps.get(f"{LMS}/api/user/v1/accounts", json=fixture("openedx/user_v1_accounts_by_email"))
    rsps.get(f"{LMS}/api/certificates/v0/certificates/alice_martin/courses/{Q}/",
             json=fixture("openedx/certificates_v0_user_course_detail"))


def test_addresses_and_names_come_from_the_accounts_api() -> None:
    """The grades list gives "" for every learner outside the masters track: the accounts API
    (staff reader) is where emails and names are."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        batch = next(iter(connector().pull(state)))
        asked = [c.request.url for c in rsps.calls if "/api/user/v1/accounts" in c.request.url]
    idents = {i.external_id: i for i in batch.identities}
    assert not state.errors
    assert (idents["bruno_petit"].email, idents["bruno_petit"].fullname) == \
        ("bruno.petit@example.org", "Bruno Petit")
    assert idents["alice_martin"].email is None  # not in the accounts answer: unknown, not ""
    assert len(asked) == 1 and "alice_martin%2Cbruno_petit%2Cchloe_durand%2Cdora_left" in asked[0]


def test_a_known_email_is_never_replaced_and_not_asked_again() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        state.known = {u: Identity(source="edx", external_id=u, email=f"{u}@known.example.org",
                                   fullname=u.title())
                       for u in ("alice_martin", "bruno_petit", "chloe_durand", "dora_left")}
        batch = next(iter(connector().pull(state)))
        accounts = [c for c in rsps.calls if "/api/user/v1/accounts" in c.request.url]
    assert accounts == []
    assert {i.email for i in batch.identities} == {f"{u}@known.example.org" for u in state.known}


def test_a_full_pull_follows_cursors_and_reads_certificates_of_passing_learners_only() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        batch = next(iter(connector().pull(state)))
        auth = [c.request.headers.get("Authorization", "") for c in rsps.calls[1:]]
    facts = {(f.external_id, f.kind): f for f in batch.facts}
    assert facts[("dora_left", FactKind.enrolment)].value == 0.0
    assert facts[("bruno_petit", FactKind.grade)].value == pytest.approx(0.45)
    assert facts[("alice_martin", FactKind.course_completion)].value == 1.0
    assert facts[("alice_martin", FactKind.certificate)].status == "downloadable"
    assert ("bruno_petit", FactKind.certificate) not in facts
    assert all(a.startswith("JWT ") for a in auth)
    # Every fact names its course as the platform does (the Course API's `name`).
    assert {f.attrs.get("course_name") for f in batch.facts} == {"Sauveteur Secouriste du Travail"}


def test_the_api_key_travels_with_the_token_never_alone() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        next(iter(connector(api_key="k3y").pull(FakeState())))
        sent = [(c.request.headers.get("Authorization", ""), c.request.headers.get("X-Edx-Api-Key"))
                for c in rsps.calls[1:]]
    assert sent and all(a.startswith("JWT ") and k == "k3y" for a, k in sent)


def test_a_rerun_without_change_costs_only_the_paged_passes() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        state = FakeState()
        c = connector()
        state.keep(next(iter(c.pull(state))))
        state.complete[(COURSE, "certificate")] = {"alice_martin"}
        before = c.http.requests
        again = next(iter(c.pull(state)))
        # enrollments (2 pages) + grades + aggregator + accounts of the 3 without an address;
        # the token is reused
        assert again.facts == [] and c.http.requests - before == 5


def test_a_throttled_enrollment_page_waits_retry_after_then_succeeds() -> None:
    waited: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        rsps.replace(responses.GET, f"{LMS}/api/enrollment/v1/enrollments", status=429,
                     json=fixture("openedx/throttled_429"), headers={"Retry-After": "7"})
        rsps.add(responses.GET, f"{LMS}/api/enrollment/v1/enrollments",
                 json={"next": None, "results": []})
        c = connector()
        c.http._sleep = waited.append
        state = FakeState()
        list(c.pull(state))
    assert waited == [7.0] and not state.errors


def test_an_expired_token_is_renewed_before_the_request() -> None:
    now = [0.0]
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
        rsps.get(f"{LMS}/api/enrollment/v1/roles/", json={"roles": [], "is_staff": True})
        c = connector()
        c.auth.clock = lambda: now[0]
        c.get(f"{LMS}/api/enrollment/v1/roles/", dict, "roles")
        now[0] = 3600 - 30  # inside the 60 s margin
        c.get(f"{LMS}/api/enrollment/v1/roles/", dict, "roles")
        assert c.auth.fetched == 2


def test_refused_client_credentials_are_fixable_and_say_how() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", status=401, json={"error": "invalid_client"})
        with pytest.raises(FixableSourceError, match="client credentials refused: invalid_client") as exc:
            connector().get(f"{LMS}/api/enrollment/v1/roles/", dict, "roles")
    assert "client credentials" in (exc.value.fix or "")


def test_a_refused_enrollment_list_names_the_staff_flag_once() -> None:
    """enrollments/views.py: IsAdminUser. Two courses, one setup problem: reported once."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
        rsps.get(f"{LMS}/api/enrollment/v1/enrollments", status=403,
                 json={"detail": "You do not have permission to perform this action."})
        state = FakeState()
        c = connector(courses=[COURSE, "course-v1:FUN+SST102+2025_T1"])
        assert list(c.pull(state)) == []
    assert len(state.errors) == 1 and isinstance(state.errors[0], FixableSourceError)
    assert "Staff status" in (state.errors[0].fix or "")


def test_accounts_404_when_none_exists_is_no_failure() -> None:
    """user_api/accounts/views.py: none of the usernames exists → 404 with an empty body."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        rsps.replace(responses.GET, f"{LMS}/api/user/v1/accounts", status=404, body=b"")
        state = FakeState()
        batch = next(iter(connector().pull(state)))
    assert not state.errors and batch.identities and all(i.email is None for i in batch.identities)


def test_a_missing_aggregator_is_a_warning_a_bad_course_key_an_error() -> None:
    """The aggregator's URL on an LMS without the plugin is the LMS's HTML 404 (a warning, the
    run stays whole); a JSON 404 from grades is about the course key (an error naming it)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps, aggregator=False)
        state = FakeState()
        batch = next(iter(connector().pull(state)))
    assert not state.errors and len(state.warnings) == 1
    assert "completion-aggregator is not installed" in str(state.warnings[0])
    assert not any(f.kind == FactKind.course_completion for f in batch.facts)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_recorded(rsps)
        rsps.replace(responses.GET, f"{LMS}/api/grades/v1/courses/{Q}/", status=404, json={
            "developer_message": "Requested grade for unknown course", "error_code":
            "course_does_not_exist"})
        state = FakeState()
        assert list(connector().pull(state)) == []
    assert len(state.errors) == 1 and f"course {COURSE} is not on this LMS" in str(state.errors[0])


def serve_push(rsps: responses.RequestsMock, *, before: float = 0.0, after: float = 1.0,
               batch_status: int = 200, batch_body: Any = None, hidden: bool = False) -> None:
    """Token, the course's structure, the learner's tree before and after, the batch, and the
    aggregator's one-learner view."""
    rsps.post(f"{LMS}/oauth2/access_token", json=fixture("openedx/oauth2_access_token_jwt"))
    blocks = f"{LMS}/api/courses/v1/blocks/"
    rsps.get(blocks, match=[matchers.query_param_matcher({"all_blocks": "true"}, strict_match=False)],
             json={"root": "v", "blocks": {BLOCK: {"type": "staffgradedxblock"},
                                           "v": {"type": "vertical", "children": [BLOCK]}}})
    for value in (before, after):
        tree = {"v": {"type": "vertical", "completion": None}}
        if not hidden:  # a staff-only block is filtered out of the learner's tree
            tree[BLOCK] = {"type": "staffgradedxblock", "completion": value}
        rsps.get(blocks, match=[matchers.query_param_matcher({"username": "bruno_petit"},
                                                             strict_match=False)],
                 json={"root": "v", "blocks": tree})
    rsps.post(f"{LMS}/api/completion/v1/completion-batch", status=batch_status,
              json=batch_body or fixture("openedx/completion_batch_response"))
    rsps.get(f"{LMS}/completion-aggregator/v1/course/{Q}/",
             json=fixture("openedx/completion_aggregator_v1_course_detail"))


def attestation(target: str = f"block:{BLOCK}") -> Attestation:
    return Attestation(source="edx", external_id="bruno_petit", username="bruno_petit",
                       course=COURSE, session="s1", target=target)


def test_a_push_to_a_learner_not_enrolled_is_refused_with_the_platforms_message() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_push(rsps, batch_status=400,
                   batch_body=fixture("openedx/completion_batch_error_not_enrolled"))
        with pytest.raises(PermanentSourceError, match="User is not enrolled in course.") as exc:
            connector().push(attestation())
    assert not isinstance(exc.value, FixableSourceError)


def test_a_push_with_the_completion_switch_off_is_kept_and_names_the_switch() -> None:
    """completion/api/v1/views.py: the switch off is a 400 naming submit_batch_completion."""
    off = {"detail": "BlockCompletion.objects.submit_batch_completion should not be called "
                     "when the feature is disabled."}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_push(rsps, batch_status=400, batch_body=off)
        with pytest.raises(FixableSourceError, match="completion.enable_completion_tracking") as exc:
            connector().push(attestation())
    assert "waffle_switch" in (exc.value.fix or "")


def test_a_pushed_block_is_read_back_as_complete() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        serve_push(rsps)
        result = connector().push(attestation())
        sent = [c.request.body for c in rsps.calls if c.request.method == "POST"][1:]
    facts = {(f.kind, f.item): f for f in result.facts}
    assert result.reflected is True and len(sent) == 1
    assert facts[(FactKind.activity_completion, BLOCK)].value == 1.0
    assert facts[(FactKind.course_completion, "")].attrs["percent"] == 0.5  # the aggregator's


def test_a_block_already_complete_is_not_sent_again() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_push(rsps, before=1.0)
        result = connector().push(attestation())
        posts = [c for c in rsps.calls if c.request.url.endswith("completion-batch")]
    assert posts == [] and result.message == "already complete; nothing sent"


def test_a_block_hidden_from_learners_is_kept_for_retry_not_pushed_blind() -> None:
    """course_api/blocks: a staff-only block exists (all_blocks) but is absent from the learner's
    tree, so its completion could never be read back."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve_push(rsps, hidden=True)
        with pytest.raises(FixableSourceError, match="hidden from learner bruno_petit") as exc:
            connector().push(attestation())
        posts = [c for c in rsps.calls if c.request.url.endswith("completion-batch")]
    assert posts == [] and "visible to learners" in (exc.value.fix or "")


@pytest.mark.parametrize(("target", "reason"), [
    ("block:block-v1:FUN+SST101+2025_T1+type@html+block@presence", "simply viewing it"),
    ("block:block-v1:FUN+OTHER+2025_T1+type@problem+block@p", "is not in course"),
    ("completion:503", "block:<usage key>"),
])
def test_a_push_target_is_refused_from_its_key_alone(target: str, reason: str) -> None:
    assert reason in (OpenEdxConnector.push_target_refusal(target, COURSE) or "")
    assert OpenEdxConnector.push_target_refusal(f"block:{BLOCK}", COURSE) is None


def test_old_style_course_keys_are_accepted_and_others_refused() -> None:
    from pydantic import ValidationError

    assert OpenEdxConfig(url=LMS, client_id="x", client_secret="y",
                         courses=["FUN/SST101/2025_T1", COURSE]).courses[0] == "FUN/SST101/2025_T1"
    with pytest.raises(ValidationError, match="not an Open edX course key"):
        OpenEdxConfig(url=LMS, client_id="x", client_secret="y", courses=["SST101 2025"])
