"""The HTTP client every connector uses: timeouts, retries with backoff (tenacity), 429
Retry-After, payload validation inside the retry loop, pagination loop guard, request counting.

Nothing here logs a URL's query or a body: tokens travel there.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

from bridge.errors import PayloadError, PermanentSourceError, SourceError

__all__ = ["HttpClient", "PayloadError", "RetryLater", "follow_next"]

RETRY_STATUSES = {429, 500, 502, 503, 504}


class RetryLater(SourceError):
    """A transient failure (no connection, a timeout, 5xx, 429); `retry_after` is the server's
    Retry-After in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **where: Any) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after


class _RetryAfterOr(wait_base):
    """The server's Retry-After (capped), else the fallback's backoff."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self.fallback, self.cap = fallback, cap

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RetryLater) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return float(self.fallback(retry_state))


def _seconds(header: str | None) -> float | None:
    """Retry-After in seconds; None for its HTTP-date form (the backoff applies then)."""
    try:
        return float(header) if header else None
    except ValueError:
        return None


class HttpClient:
    """A `requests.Session` with the retry policy of a daemon that must not stop."""

    def __init__(self, source_id: str, *, timeout: float = 30.0, retries: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0, pool: int = 8,
                 user_agent: str = "badge-bridge", sleep: Callable[[float], None] = time.sleep) -> None:
        self.source_id = source_id
        self.timeout, self.retries = timeout, retries
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent
        # requests reads the proxy variables and ~/.netrc again on every call when trust_env is
        # on (a few % of a pull's CPU): they are read once per origin here instead (_env).
        # A token API needs no netrc credentials, so those are not looked up at all.
        self.session.trust_env = False
        self._env: dict[tuple[str, str], dict[str, Any]] = {}
        # Full jitter keeps parallel retries apart; a Retry-After is honoured up to max_backoff.
        self._wait = _RetryAfterOr(wait_random_exponential(multiplier=backoff, max=max_backoff),
                                   max_backoff)
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()  # HTTP status, or "error" when none came back
        self.retried = 0
        # Called after each request with its endpoint (a run's progress counts them).
        self.on_request: Callable[[str], None] | None = None
        # Headers for each attempt; called with refresh=True once after a 401 (expired token).
        self.auth: Callable[[bool], dict[str, str]] | None = None

    @classmethod
    def for_source(cls, source_id: str, config: Any) -> HttpClient:
        """A client with a source's configured timeout, retries, backoff and pool size."""
        return cls(source_id, timeout=config.timeout, retries=config.retries, backoff=config.backoff,
                   pool=config.parallel + 2)

    def close(self) -> None:
        self.session.close()

    def _env_settings(self, url: str) -> dict[str, Any]:
        """Proxies and CA bundle from the environment, as requests would merge them, once per
        scheme and host."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        settings = self._env.get(origin)
        if settings is None:
            probe = requests.Session()  # trust_env on: the environment's settings, read once
            merged = probe.merge_environment_settings(url, {}, None, None, None)
            probe.close()
            settings = {"proxies": merged["proxies"], "verify": merged["verify"]}
            self._env[origin] = settings
        return settings

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[endpoint] += 1
        if self.on_request is not None:
            self.on_request(endpoint)

    def _answered(self, status: int | str) -> None:
        with self._lock:
            self.by_status[str(status)] += 1

    def _count_retry(self, _: RetryCallState) -> None:
        with self._lock:
            self.retried += 1

    def request_json(self, method: str, url: str, *, endpoint: str,
                     validate: Callable[[Any], Any] | None = None,
                     ok_statuses: frozenset[int] = frozenset({200}),
                     retries: int | None = None, authenticate: bool = True,
                     consume: Callable[[requests.Response], Any] | None = None, **kwargs: Any) -> Any:
        """Send, retry what is transient, parse JSON and validate; raise SourceError at the end.

        `validate(payload)` returns the value to hand back; it raises PayloadError for a
        transient defect (retried) or PermanentSourceError for a refusal (not retried).
        A non-retryable HTTP status outside `ok_statuses` is a PermanentSourceError carrying
        the JSON body in `.body`. A write that must not be repeated blindly passes `retries=0`
        and lets its caller read the platform before trying again. `authenticate=False` sends
        the request without the auth hook's headers (the token request itself). `consume(resp)`
        replaces JSON parsing and `validate`: the body is streamed to it (a large report is read
        as it arrives, never held whole); it raises PayloadError to have the request retried.
        """
        headers = kwargs.pop("headers", None) or {}
        renewed = False  # the token is renewed once per call, not once per attempt
        env = self._env_settings(url)
        if consume is not None:
            kwargs["stream"] = True

        def send() -> requests.Response:
            nonlocal renewed
            self._count(endpoint)
            sent = {**headers, **(self.auth(False) if self.auth and authenticate else {})}
            try:
                resp = self.session.request(method, url, timeout=self.timeout, headers=sent,
                                            **env, **kwargs)
            except requests.Timeout:
                self._answered("error")
                raise RetryLater(f"no answer within {self.timeout:g} s", source=self.source_id,
                                 endpoint=endpoint) from None
            except requests.ConnectionError as exc:
                self._answered("error")
                raise RetryLater(f"connection failed: {type(exc).__name__}", source=self.source_id,
                                 endpoint=endpoint) from None
            self._answered(resp.status_code)
            if resp.status_code == 401 and self.auth and authenticate and not renewed:
                renewed = True  # the token expired early (clock skew, revoked): renew, send again
                self.auth(True)
                return send()
            return resp

        def attempt() -> Any:
            resp = send()
            if consume is not None and resp.status_code not in ok_statuses:
                resp.content  # noqa: B018 - read a refusal's (small) body, release the connection
            if resp.status_code in RETRY_STATUSES:
                raise RetryLater("temporary failure" if resp.status_code != 429 else "throttled",
                                 retry_after=_seconds(resp.headers.get("Retry-After")),
                                 source=self.source_id, endpoint=endpoint, status=resp.status_code)
            if resp.status_code not in ok_statuses:
                err = PermanentSourceError(_summary(resp), source=self.source_id,
                                           endpoint=endpoint, status=resp.status_code)
                err.body = _json_or_none(resp)  # type: ignore[attr-defined]
                raise err
            if consume is not None:
                try:
                    return consume(resp)
                except requests.RequestException:  # cut, timed out or undecodable mid-body
                    raise RetryLater("connection lost while reading the body", source=self.source_id,
                                     endpoint=endpoint, status=resp.status_code) from None
                finally:
                    resp.close()
            try:
                payload = resp.json() if resp.content else None
            except (ValueError, json.JSONDecodeError):
                raise PayloadError("response is not valid JSON (truncated?)", source=self.source_id,
                                   endpoint=endpoint, status=resp.status_code) from None
            return validate(payload) if validate else payload

        attempts = 1 + (self.retries if retries is None else retries)
        try:  # the first attempt without the retry machinery: most calls need no other
            return attempt()
        except (RetryLater, PayloadError) as exc:
            if attempts == 1:
                raise
            failed: BaseException | None = exc

        def replay() -> Any:
            """The first attempt's failure as tenacity's attempt 1, then new attempts: the
            backoff and the counts are those of a loop that made all of them."""
            nonlocal failed
            if failed is not None:
                error, failed = failed, None
                raise error
            return attempt()

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait, retry=retry_if_exception_type((RetryLater, PayloadError)),
            sleep=self._sleep, before_sleep=self._count_retry, reraise=True)
        return retrying(replay)


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _summary(resp: requests.Response) -> str:
    body = _json_or_none(resp)
    if isinstance(body, dict):
        for key in ("detail", "developer_message", "error_description", "error_code", "error", "message"):
            if key in body and isinstance(body[key], str):
                return body[key][:300]
    return f"unexpected HTTP status {resp.status_code}"


def follow_next(fetch: Callable[[str], dict[str, Any]], first_url: str, *, source: str,
                endpoint: str, next_of: Callable[[dict[str, Any]], str | None] = lambda p: p.get("next"),
                ) -> Iterator[dict[str, Any]]:
    """Pages of a `next`-link API (cursor or page number), refusing a pagination loop."""
    seen: set[str] = set()
    url: str | None = first_url
    while url:
        if url in seen:
            raise SourceError("pagination loop: the same next link came back twice",
                              source=source, endpoint=endpoint)
        seen.add(url)
        page = fetch(url)
        yield page
        url = next_of(page)
