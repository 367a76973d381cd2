"""OAuth2 client credentials for Open edX: a JWT cached and renewed before it expires, and the
LMS's API key sent along with it (the key lifts the enrollment throttle; alone it is no login).

The token endpoint is rate-limited, so one token serves every request until ~60 s before expiry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

from bridge.errors import FixableSourceError, PermanentSourceError
from connectors.edx_common import API_KEY_HEADER
from connectors.http import HttpClient, PayloadError
from connectors.openedx.requirements import NEEDS

__all__ = ["ClientCredentials"]


class ClientCredentials:
    """The HttpClient auth hook: `Authorization: JWT <token>`, plus `X-Edx-Api-Key` if given."""

    def __init__(self, http: HttpClient, token_url: str, client_id: str, client_secret: str, *,
                 margin: float = 60.0, api_key: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.http, self.token_url = http, token_url
        self.client_id, self.client_secret, self.api_key = client_id, client_secret, api_key
        self.margin, self.clock = margin, clock
        self._token: tuple[str, str] | None = None  # (scheme, token)
        self._expires = 0.0
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0

    def __call__(self, refresh: bool) -> dict[str, str]:
        with self._lock:
            # Threads refused at once all ask to refresh: one new token serves them all.
            just_fetched = self._token is not None and self.clock() - self._fetched_at < 5.0
            if (refresh and not just_fetched) or self._token is None \
                    or self.clock() >= self._expires - self.margin:
                self._fetch()
            assert self._token is not None
            headers = {"Authorization": f"{self._token[0]} {self._token[1]}"}
        if self.api_key:
            headers[API_KEY_HEADER] = self.api_key
        return headers

    @property
    def claims(self) -> dict[str, object]:
        """The current JWT's payload, unverified (the LMS verifies it): who we are to the LMS
        (`administrator` is the user's staff flag, `is_restricted` a restricted application)."""
        if self._token is None or self._token[0] != "JWT":
            return {}
        try:
            return dict(jwt.decode(self._token[1], options={"verify_signature": False}))
        except jwt.InvalidTokenError:
            return {}

    def _fetch(self) -> None:
        def validate(body: object) -> tuple[str, str, float]:
            if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                raise PayloadError("no access_token in the answer", source=self.http.source_id,
                                   endpoint="oauth2/access_token", field="access_token")
            scheme = "JWT" if str(body.get("token_type", "")).lower() == "jwt" else "Bearer"
            return scheme, body["access_token"], float(body.get("expires_in") or 300)

        try:
            # authenticate=False, not a cleared hook: other threads keep their token meanwhile.
            scheme, token, ttl = self.http.request_json(
                "POST", self.token_url, endpoint="oauth2/access_token", validate=validate,
                authenticate=False,
                data={"grant_type": "client_credentials", "client_id": self.client_id,
                      "client_secret": self.client_secret, "token_type": "jwt"})
        except PermanentSourceError as exc:
            raise FixableSourceError(f"client credentials refused: {exc.detail}",
                                     source=exc.source, endpoint=exc.endpoint, status=exc.status,
                                     fix=NEEDS["client_credentials"].fix) from None
        now = self.clock()
        self._token, self._expires, self._fetched_at = (scheme, token), now + ttl, now
        self.fetched += 1
