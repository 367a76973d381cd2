"""The check-in desk: whether a session takes check-ins now, taking one (by QR, by the organiser,
from a sheet), confirming, removing, and the rate limits; shared by the web pages and the CLI.

Every refusal is a CheckInRefused whose `reason` the pages put in words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bridge.addresses import email_address
from bridge.config import Config
from bridge.errors import CapacityError, CheckInRefused, InvalidAddress
from bridge.meetups.facts import presence_batch
from bridge.meetups.mail import queue_confirmation
from bridge.meetups.settings import MeetupsSettings
from bridge.meetups.tokens import Tokens, load_key
from bridge.store import CheckIn, MeetupSession, NewCheckIn, Store

__all__ = ["Desk", "Result", "State", "LINK_LIFETIME", "TICKET_LIFETIME", "mask_email"]

State = Literal["not_open", "open", "closed"]
Method = Literal["qr", "organiser", "sheet"]
LINK_LIFETIME = timedelta(hours=24)  # an organiser link works until the session's end + this
TICKET_LIFETIME = 15 * 60  # seconds a participant has, after the scan, to type their address


def mask_email(email: str) -> str:
    """An address as a projected screen may show it: "ca•••@e•••.org"."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:2]}•••@{(host or tld)[:1]}•••{dot}{tld if host else ''}"


@dataclass(frozen=True)
class Result:
    """A check-in taken: `new` is False when the address had already checked in."""

    checkin: CheckIn
    new: bool

    @property
    def status(self) -> Literal["checked_in", "already", "pending"]:
        if self.checkin.status == "pending":
            return "pending"
        return "checked_in" if self.new else "already"


class Desk:
    """One per web app or command; `now` is an argument so that tests move the clock."""

    def __init__(self, config: Config, store: Store, tokens: Tokens | None = None) -> None:
        self.config, self.store = config, store
        self.tokens = tokens or Tokens(load_key(config.bridge.keys_path))

    def settings(self, session: MeetupSession) -> MeetupsSettings | None:
        """The config of the session's source; None if it is no longer a meetups source."""
        source = self.config.sources.get(session.source)
        return source if isinstance(source, MeetupsSettings) and source.enabled else None

    def state(self, session: MeetupSession, now: datetime) -> State:
        settings = self.settings(session)
        if session.closed_at is not None or settings is None:
            return "closed"
        if now < session.starts_at - timedelta(minutes=settings.opens_before):
            return "not_open"
        if now > session.ends_at + timedelta(minutes=settings.closes_after):
            return "closed"
        return "open"

    # -- links ----------------------------------------------------------------------
    def organiser_url(self, session: MeetupSession) -> str:
        return self.tokens.organiser_link(self.config.bridge.public_url, session.id,
                                          session.link_generation)

    def checkin_url(self, session: MeetupSession, now: datetime) -> str:
        return f"{self.config.bridge.public_url}/m/{session.id}/{self.tokens.qr(session.id, now)}"

    def organiser_session(self, token: str, now: datetime) -> MeetupSession:
        """The session an organiser link opens; `no_link` if it was forged, replaced by
        `meetups link`, or has expired (the session's end + 24 h)."""
        claims = self.tokens.organiser_claims(token)
        session = self.store.meetups.get(claims[0]) if claims else None
        if claims is None or session is None:
            raise CheckInRefused("no_link", "not an organiser link")
        if claims[1] != session.link_generation:
            raise CheckInRefused("no_link", "replaced by a newer link")
        if now > session.ends_at + LINK_LIFETIME:
            raise CheckInRefused("no_link", "expired")
        return session

    # -- check-ins ------------------------------------------------------------------
    def check_in(self, session: MeetupSession, address: str, method: Method, *,
                 device: str | None = None, now: datetime | None = None,
                 lang: str | None = None) -> Result:
        """Take one check-in. A QR check-in needs the session open; an organiser's, that it
        is not closed; a sheet's is taken whenever the sheet comes back."""
        now = now or datetime.now(UTC)
        settings = self.settings(session)
        state = self.state(session, now)
        if settings is None or (method == "qr" and state != "open") or \
                (method == "organiser" and session.closed_at is not None):
            raise CheckInRefused("closed" if state != "not_open" else "not_open")
        try:
            email = email_address(address)
        except InvalidAddress as exc:
            raise CheckInRefused("invalid_email", exc.reason) from None
        pending = method == "qr" and session.confirm == "email"
        new = NewCheckIn(session.id, email, method, pending=pending,
                         device=_digest(device) if device else None)
        try:
            checkin, created = self.store.meetups.record(
                new, presence_batch(session, email, method, extra_tags=settings.tags),
                per_device=settings.per_device if method == "qr" else None, now=now)
        except CapacityError as exc:
            raise CheckInRefused("device_full", str(exc)) from None
        if pending and created:
            queue_confirmation(self.store, self.config, checkin, lang)
        return Result(checkin, created)

    def import_sheet(self, rows: list[tuple[MeetupSession, str]]) -> int:
        """A sign-in sheet's present rows (session, address), recorded together; how many new."""
        items = []
        for session, email in rows:
            settings = self.settings(session)
            items.append((NewCheckIn(session.id, email, "sheet"), presence_batch(
                session, email, "sheet", extra_tags=settings.tags if settings else [])))
        return self.store.meetups.record_many(items)

    def confirm(self, checkin_id: int, now: datetime | None = None) -> tuple[MeetupSession, Result]:
        """The participant clicked the emailed link: their pending check-in counts."""
        now = now or datetime.now(UTC)
        checkin = self.store.meetups.checkin(checkin_id)
        session = self.store.meetups.get(checkin.session_id) if checkin else None
        if checkin is None or session is None or checkin.status == "removed":
            raise CheckInRefused("no_link", "no such check-in")
        if now > session.ends_at + LINK_LIFETIME:
            raise CheckInRefused("no_link", "expired")
        settings = self.settings(session)
        done = self.store.meetups.confirm(
            checkin_id, presence_batch(session, checkin.email, checkin.method,
                                       extra_tags=settings.tags if settings else []), now)
        found = self.store.meetups.checkin(checkin_id)
        assert found is not None
        return session, Result(found, done)

    def remove(self, session: MeetupSession, checkin_id: int) -> bool:
        """An organiser removes a mistaken entry of their session."""
        checkin = self.store.meetups.checkin(checkin_id)
        if checkin is None or checkin.session_id != session.id:
            return False
        settings = self.settings(session)
        return self.store.meetups.remove(checkin_id, presence_batch(
            session, checkin.email, checkin.method, present=False,
            extra_tags=settings.tags if settings else []))

    def throttle(self, session: MeetupSession, device: str | None, ip: str | None,
                 now: datetime | None = None) -> None:
        """Count one check-in request; `too_many` past the device's or the address's limit."""
        settings = self.settings(session)
        if settings is None:
            raise CheckInRefused("closed")
        window = timedelta(seconds=settings.limit_window)
        for key, limit in ((f"device:{_digest(device)}" if device else None, settings.device_limit),
                           (f"ip:{ip}" if ip else None, settings.ip_limit)):
            if key and not self.store.meetups.hit(key, limit, window, now):
                raise CheckInRefused("too_many", key.split(":")[0])


def _digest(device: str) -> str:
    """What the store keeps of a device id: enough to count, nothing to replay a cookie with."""
    return hashlib.sha256(device.encode()).hexdigest()[:32]
