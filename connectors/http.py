"""The HTTP client every connector uses: timeouts, retries with backoff, 429 Retry-After,
payload validation inside the retry loop, pagination loop guard and request counting.

Nothing here logs a URL's query or a body: tokens travel there.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bridge.errors import PayloadError, PermanentSourceError, SourceError

__all__ = ["HttpClient", "PayloadError", "follow_next"]

RETRY_STATUSES = {429, 500, 502, 503, 504}


class HttpClient:
    """A `requests.Session` with the retry policy of a daemon that must not stop."""

    def __init__(self, source_id: str, *, timeout: float = 30.0, retries: int = 5,
                 backoff: float = 0.5, max_backoff: float = 30.0, pool: int = 8,
                 user_agent: str = "badge-bridge", sleep: Callable[[float], None] = time.sleep) -> None:
        self.source_id = source_id
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0
        self.by_endpoint: Counter[str] = Counter()
        self.retried = 0
        # Headers for each attempt; called with refresh=True once after a 401 (expired token).
        self.auth: Callable[[bool], dict[str, str]] | None = None

    @classmethod
    def for_source(cls, source_id: str, config: Any) -> HttpClient:
        """A client with a source's configured timeout, retries, backoff and pool size."""
        return cls(source_id, timeout=config.timeout, retries=config.retries, backoff=config.backoff,
                   pool=config.parallel + 2)

    def close(self) -> None:
        self.session.close()

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[endpoint] += 1

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        base = min(self.backoff * (2 ** attempt), self.max_backoff)
        return base * (0.5 + random.random() / 2)  # jitter keeps parallel retries apart

    def request_json(self, method: str, url: str, *, endpoint: str,
                     validate: Callable[[Any], Any] | None = None,
                     ok_statuses: frozenset[int] = frozenset({200}),
                     retries: int | None = None, authenticate: bool = True, **kwargs: Any) -> Any:
        """Send, retry what is transient, parse JSON and validate; raise SourceError at the end.

        `validate(payload)` returns the value to hand back; it raises PayloadError for a
        transient defect (retried) or PermanentSourceError for a refusal (not retried).
        A non-retryable HTTP status outside `ok_statuses` is a PermanentSourceError carrying
        the JSON body in `.body`. A write that must not be repeated blindly passes `retries=0`
        and lets its caller read the platform before trying again. `authenticate=False` sends
        the request without the auth hook's headers (the token request itself).
        """
        retries = self.retries if retries is None else retries
        last: SourceError | None = None
        refreshed = False
        headers = kwargs.pop("headers", None) or {}
        attempt = 0
        while attempt <= retries:
            if attempt:
                with self._lock:
                    self.retried += 1
            self._count(endpoint)
            retry_after = None
            sent = {**headers, **(self.auth(False) if self.auth and authenticate else {})}
            try:
                resp = self.session.request(method, url, timeout=self.timeout, headers=sent, **kwargs)
            except requests.Timeout:
                last = SourceError(f"no answer within {self.timeout:g} s", source=self.source_id,
                                   endpoint=endpoint)
            except requests.ConnectionError as exc:
                last = SourceError(f"connection failed: {type(exc).__name__}", source=self.source_id,
                                   endpoint=endpoint)
            else:
                if resp.status_code == 401 and self.auth and authenticate and not refreshed:
                    refreshed = True  # the token expired early (clock skew, revoked): renew once
                    self.auth(True)
                    continue
                if resp.status_code in RETRY_STATUSES:
                    retry_after = resp.headers.get("Retry-After")
                    last = SourceError("temporary failure" if resp.status_code != 429 else "throttled",
                                       source=self.source_id, endpoint=endpoint, status=resp.status_code)
                elif resp.status_code not in ok_statuses:
                    err = PermanentSourceError(_summary(resp), source=self.source_id,
                                               endpoint=endpoint, status=resp.status_code)
                    err.body = _json_or_none(resp)  # type: ignore[attr-defined]
                    raise err
                else:
                    try:
                        payload = resp.json() if resp.content else None
                    except (ValueError, json.JSONDecodeError):
                        last = PayloadError("response is not valid JSON (truncated?)",
                                            source=self.source_id, endpoint=endpoint,
                                            status=resp.status_code)
                    else:
                        try:
                            return validate(payload) if validate else payload
                        except PermanentSourceError:
                            raise
                        except PayloadError as exc:
                            last = exc
            if attempt < retries:
                self._sleep(self._delay(attempt, retry_after))
            attempt += 1
        assert last is not None
        raise last


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
