"""The shared HTTP client: retries on 5xx and 429 (Retry-After), validation retries, loop guard."""

from __future__ import annotations

import pytest
import responses

from bridge.errors import PermanentSourceError, SourceError
from connectors.http import HttpClient, PayloadError, follow_next

URL = "https://lms.example.org/api/x"


def client(**kw) -> tuple[HttpClient, list[float]]:
    slept: list[float] = []
    return HttpClient("lms", retries=3, backoff=0.01, sleep=slept.append, **kw), slept


@responses.activate
def test_transient_failures_are_retried_and_counted():
    responses.get(URL, status=500)
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, body='{"trunc')
    responses.get(URL, json={"ok": 1})
    http, slept = client()
    assert http.request_json("GET", URL, endpoint="x") == {"ok": 1}
    assert http.requests == 4 and http.retried == 3
    assert slept[1] == 7.0  # the 429's Retry-After was honoured


@responses.activate
def test_exhausted_retries_raise_source_error_naming_source_endpoint_status():
    responses.get(URL, status=503)
    http, _ = client()
    with pytest.raises(SourceError) as err:
        http.request_json("GET", URL, endpoint="enrollments")
    assert str(err.value) == "source lms enrollments HTTP 503: temporary failure"
    assert http.requests == 4


@responses.activate
def test_client_error_is_permanent_and_not_retried():
    responses.get(URL, status=404, json={"error_code": "user_not_enrolled"})
    http, _ = client()
    with pytest.raises(PermanentSourceError, match="user_not_enrolled"):
        http.request_json("GET", URL, endpoint="grades")
    assert http.requests == 1


@responses.activate
def test_bad_payload_is_retried_then_reported_with_field():
    responses.get(URL, json={"id": "abc"})

    def validate(payload):
        if not isinstance(payload["id"], int):
            raise PayloadError("not an integer", source="lms", endpoint="x", field="id")
        return payload

    http, _ = client()
    with pytest.raises(PayloadError) as err:
        http.request_json("GET", URL, endpoint="x", validate=validate)
    assert err.value.field == "id" and http.requests == 4


def test_pagination_loop_is_refused():
    pages = {"a": {"next": "b"}, "b": {"next": "a"}}
    with pytest.raises(SourceError, match="pagination loop"):
        list(follow_next(lambda url: pages[url], "a", source="lms", endpoint="x"))


@responses.activate
def test_a_retry_after_beyond_the_cap_or_as_a_date_waits_at_most_the_cap():
    responses.get(URL, status=429, headers={"Retry-After": "3600"})
    responses.get(URL, status=503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    responses.get(URL, json={"ok": 1})
    slept: list[float] = []
    http = HttpClient("lms", retries=3, backoff=0.01, max_backoff=2.0, sleep=slept.append)
    assert http.request_json("GET", URL, endpoint="x") == {"ok": 1}
    assert slept[0] == 2.0 and 0 <= slept[1] <= 0.02  # capped; the date form falls back to backoff


@responses.activate
def test_a_write_with_no_retries_is_sent_once_and_an_expired_token_renewed_once():
    responses.post(URL, status=401)
    responses.post(URL, status=401)
    renewals: list[bool] = []
    http, _ = client()
    http.auth = lambda refresh: renewals.append(refresh) or {"Authorization": "Bearer t"}
    with pytest.raises(PermanentSourceError):
        http.request_json("POST", URL, endpoint="write", retries=0)
    assert http.requests == 2 and renewals == [False, True, False] and http.retried == 0
