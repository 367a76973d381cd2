"""The signed values of meetups: the rotating QR token, the organiser link, the participant's
ticket and device, form tokens, the email-confirmation link.

All are HMAC-SHA256 signatures (itsdangerous) under one secret kept in the keys folder
(`meetups.key`, mode 0600), each kind with its own salt so that none passes for another.
Several web workers and machines share the keys folder, hence the same key.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer, URLSafeSerializer

from bridge.errors import CheckInRefused
from bridge.secretfile import create_once

__all__ = ["WINDOW", "Tokens", "load_key"]

WINDOW = 30  # seconds a QR code shows before the next one; the previous one is still accepted
KEY_FILE = "meetups.key"


def load_key(keys_dir: Path) -> bytes:
    """The meetups secret, created on first use (bridge.secretfile)."""
    path = create_once(keys_dir, KEY_FILE)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


class Tokens:
    """Issues and checks the signed values; `now` is passed in so that tests move time."""

    def __init__(self, key: bytes) -> None:
        kw: dict[str, Any] = {"digest_method": hashlib.sha256}
        self._qr = Signer(key, salt="meetup-qr", **kw)
        self._device = Signer(key, salt="meetup-device", **kw)
        self._kinds = {salt: URLSafeSerializer(key, salt=f"meetup-{salt}", signer_kwargs=kw)
                       for salt in ("organiser", "ticket", "form", "confirm")}

    # -- the QR code ---------------------------------------------------------------
    @staticmethod
    def window(now: datetime) -> int:
        return int(now.timestamp()) // WINDOW

    def qr(self, session_id: str, now: datetime) -> str:
        """The token of the current window: `<window>.<signature>`."""
        window = self.window(now)
        return f"{window}.{self._qr.get_signature(f'{session_id}.{window}').decode()}"

    def check_qr(self, session_id: str, token: str, now: datetime) -> None:
        """CheckInRefused `forged` (not ours, or another session's) or `expired` (older than the
        previous window). The next window passes too: workers' clocks differ by a little."""
        window, _, signature = token.partition(".")
        if not window.isdigit() or not self._qr.verify_signature(f"{session_id}.{window}", signature):
            raise CheckInRefused("forged")
        if not -1 <= int(window) - self.window(now) <= 1:
            raise CheckInRefused("expired")

    # -- the organiser's link --------------------------------------------------------
    def organiser(self, session_id: str, generation: int) -> str:
        return self._dumps("organiser", [session_id, generation])

    def organiser_link(self, base: str, session_id: str, generation: int) -> str:
        """The organiser's page of a session, under the public URL `base`."""
        return f"{base}/o/{self.organiser(session_id, generation)}"

    def organiser_claims(self, token: str) -> tuple[str, int] | None:
        """(session id, link generation) of a genuine link; whether it is still the current
        one, and not expired, is the session's to say."""
        data = self._loads("organiser", token)
        if isinstance(data, list) and len(data) == 2 and isinstance(data[0], str) \
                and isinstance(data[1], int):
            return data[0], data[1]
        return None

    # -- the participant's device and ticket ------------------------------------------
    def new_device(self) -> str:
        return self._device.sign(secrets.token_urlsafe(16)).decode()

    def device(self, cookie: str | None) -> str | None:
        """The device id of a genuine device cookie."""
        if not cookie:
            return None
        try:
            return self._device.unsign(cookie).decode()
        except BadSignature:
            return None

    def ticket(self, session_id: str, device: str, now: datetime) -> str:
        """What a valid QR scan gives the participant: time to type their address."""
        return self._dumps("ticket", [session_id, device, int(now.timestamp())])

    def ticket_device(self, token: str | None, session_id: str, now: datetime,
                      lifetime: int) -> str | None:
        """The device a ticket was given to, if it is this session's and still fresh."""
        data = self._loads("ticket", token) if token else None
        if not (isinstance(data, list) and len(data) == 3 and data[0] == session_id):
            return None
        issued = data[2]
        fresh = isinstance(issued, int) and 0 <= now.timestamp() - issued <= lifetime
        return str(data[1]) if fresh else None

    def form(self, scope: str, device: str) -> str:
        """A form's anti-forgery token, bound to the device cookie of who was shown the form."""
        return self._dumps("form", [scope, device])

    def form_ok(self, token: str | None, scope: str, device: str | None) -> bool:
        return device is not None and token is not None and \
            self._loads("form", token) == [scope, device]

    # -- the confirmation link -------------------------------------------------------
    def confirm(self, checkin_id: int) -> str:
        return self._dumps("confirm", [checkin_id])

    def confirm_link(self, base: str, checkin_id: int) -> str:
        """The emailed link that confirms a pending check-in, under the public URL `base`."""
        return f"{base}/m/confirm/{self.confirm(checkin_id)}"

    def confirm_id(self, token: str) -> int | None:
        data = self._loads("confirm", token)
        return data[0] if isinstance(data, list) and len(data) == 1 and isinstance(data[0], int) \
            else None

    def _dumps(self, kind: str, value: Any) -> str:
        out = self._kinds[kind].dumps(value)
        return out if isinstance(out, str) else out.decode()

    def _loads(self, kind: str, token: str) -> Any:
        try:
            return self._kinds[kind].loads(token)
        except BadSignature:
            return None
