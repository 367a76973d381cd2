"""The meetup pages: the participant's check-in (`/m/…`), the organiser's live view (`/o/…`),
the printable sign-in sheet, and the email-confirmation link.

State lives in the database (sessions, check-ins, rate-limit counters), so any number of web
workers serve these pages alike. Pages carry no inline script or style; state-changing forms
carry a token bound to the device cookie.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge import i18n
from bridge.addresses import email_address
from bridge.config import Config
from bridge.errors import CheckInRefused, InvalidAddress
from bridge.issuing.share import qr_svg
from bridge.meetups.desk import TICKET_LIFETIME, Desk, Result, mask_email
from bridge.meetups.mail import deliver_meetup_mails
from bridge.meetups.sheet import sheet_csv
from bridge.store import MeetupSession, Store

__all__ = ["meetup_routes"]

Html = Callable[..., Response]
DEVICE = "bb_device"
TICKET = "bb_ticket"
YEAR = 400 * 24 * 3600  # the longest a browser keeps a cookie (RFC 6265bis)
# HTTP statuses of the refusals: the page is the same, machines see the kind of refusal.
STATUS = {"forged": 403, "expired": 410, "no_ticket": 410, "not_open": 409, "closed": 409,
          "invalid_email": 422, "too_many": 429, "device_full": 429, "erased": 409, "no_link": 403}


class _Pages:
    """The handlers, sharing the desk, the config and the page renderer."""

    def __init__(self, config: Config, store: Store, html: Html,
                 lang_of: Callable[[Request], str]) -> None:
        self.config, self.store, self.render, self.lang_of = config, store, html, lang_of
        self.secure = config.bridge.public_url.startswith("https://")

    @cached_property
    def desk(self) -> Desk:
        return Desk(self.config, self.store)

    # -- helpers ---------------------------------------------------------------------
    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        response = self.render(f"web/meetups/{template}", self.lang_of(request), status, **context)
        response.headers["Cache-Control"] = "no-store"
        return response

    def refused(self, request: Request, reason: str, session: MeetupSession | None = None,
                organiser: bool = False) -> Response:
        return self.page(request, "refused.html.j2", STATUS.get(reason, 403), reason=reason,
                         session=self.describe(session) if session else None, organiser=organiser)

    def describe(self, session: MeetupSession) -> dict[str, Any]:
        zone = ZoneInfo(session.timezone)
        return {"id": session.id, "title": session.title, "place": session.where,
                "starts_at": session.starts_at.astimezone(zone),
                "ends_at": session.ends_at.astimezone(zone), "confirm": session.confirm}

    def device(self, request: Request) -> str | None:
        return self.desk.tokens.device(request.cookies.get(DEVICE))

    def with_device(self, request: Request, response: Response) -> Response:
        """Give the browser a device cookie if it has none (the rate limits count per device)."""
        if self.device(request) is None:
            response.set_cookie(DEVICE, self.desk.tokens.new_device(), max_age=YEAR, httponly=True,
                                samesite="lax", secure=self.secure)
        return response

    def session(self, request: Request) -> MeetupSession | None:
        return self.store.meetups.get(request.path_params["session_id"])

    # -- the participant -----------------------------------------------------------------
    async def scan(self, request: Request) -> Response:
        """The QR code's URL: a fresh token gives a ticket (a cookie), then the form."""
        session = self.session(request)
        if session is None:
            return self.refused(request, "no_link")
        now = datetime.now(UTC)
        try:
            self.desk.tokens.check_qr(session.id, request.path_params["token"], now)
        except CheckInRefused as exc:
            return self.refused(request, exc.reason, session)
        state = self.desk.state(session, now)
        if state != "open":
            return self.refused(request, state, session)
        cookie = request.cookies.get(DEVICE)
        device = self.desk.tokens.device(cookie)
        fresh = device is None
        if fresh:
            cookie = self.desk.tokens.new_device()
            device = self.desk.tokens.device(cookie)
        assert device is not None and cookie is not None
        lang = request.query_params.get("lang")
        response = RedirectResponse(f"/m/{session.id}" + (f"?lang={lang}" if lang in i18n.languages()
                                                          else ""), status_code=303)
        # The token leaves the address bar: a forwarded link or a history entry carries nothing.
        response.set_cookie(TICKET, self.desk.tokens.ticket(session.id, device, now),
                            max_age=TICKET_LIFETIME, path=f"/m/{session.id}", httponly=True,
                            samesite="lax", secure=self.secure)
        if fresh:
            response.set_cookie(DEVICE, cookie, max_age=YEAR, httponly=True, samesite="lax",
                                secure=self.secure)
        return response

    def ticket_device(self, request: Request, session: MeetupSession) -> str | None:
        device = self.desk.tokens.ticket_device(request.cookies.get(TICKET), session.id,
                                                datetime.now(UTC), TICKET_LIFETIME)
        return device if device is not None and device == self.device(request) else None

    async def form(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.refused(request, "no_link")
        device = self.ticket_device(request, session)
        if device is None:
            return self.refused(request, "no_ticket", session)
        state = self.desk.state(session, datetime.now(UTC))
        if state != "open":
            return self.refused(request, state, session)
        return self.page(request, "checkin.html.j2", step="email", email="", error=None,
                         session=self.describe(session), csrf=self.desk.tokens.form(
                             f"checkin:{session.id}", device))

    async def submit(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self.refused(request, "no_link")
        device = self.ticket_device(request, session)
        if device is None:
            return self.refused(request, "no_ticket", session)
        data = await request.form()
        scope = f"checkin:{session.id}"
        if not self.desk.tokens.form_ok(_field(data, "csrf"), scope, device):
            return self.refused(request, "forged", session)
        try:
            self.desk.throttle(session, device, request.client.host if request.client else None)
        except CheckInRefused as exc:
            return self.refused(request, exc.reason, session)
        typed = _field(data, "email")[:320]
        csrf = self.desk.tokens.form(scope, device)
        described = self.describe(session)
        try:
            email = email_address(typed)
        except InvalidAddress:
            return self.page(request, "checkin.html.j2", 422, step="email", email=typed,
                             error="invalid_email", session=described, csrf=csrf)
        if _field(data, "step") != "confirm":
            return self.page(request, "checkin.html.j2", step="confirm", email=email, error=None,
                             session=described, csrf=csrf)
        try:
            result = self.desk.check_in(session, email, "qr", device=device,
                                        lang=self.lang_of(request))
        except CheckInRefused as exc:
            return self.refused(request, exc.reason, session)
        response = self.page(request, "done.html.j2", status=201 if result.new else 200,
                             outcome=result.status, matched=result.checkin.matched,
                             email=email, session=described)
        if result.status == "pending" and result.new:
            response.background = BackgroundTask(deliver_meetup_mails, self.config, self.store)
        return response

    async def confirm_link(self, request: Request) -> Response:
        """The emailed link: a page with a button, since mail scanners open links by themselves."""
        checkin_id = self.desk.tokens.confirm_id(request.path_params["token"])
        checkin = self.store.meetups.checkin(checkin_id) if checkin_id is not None else None
        session = self.store.meetups.get(checkin.session_id) if checkin else None
        if checkin is None or session is None:
            return self.refused(request, "no_link")
        device = self.device(request)
        if request.method == "GET":
            csrf = self.desk.tokens.form(f"confirm:{checkin.id}", device) if device else ""
            response = self.page(request, "confirm.html.j2", session=self.describe(session),
                                 csrf=csrf, masked=mask_email(checkin.email),
                                 done=checkin.status == "present")
            if device is None:  # the form needs one: shown again once the cookie is set
                response = self.with_device(request, RedirectResponse(str(request.url), 303))
            return response
        data = await request.form()
        if not self.desk.tokens.form_ok(_field(data, "csrf"), f"confirm:{checkin.id}", device):
            return self.refused(request, "forged", session)
        try:
            session, result = self.desk.confirm(checkin.id)
        except CheckInRefused as exc:
            return self.refused(request, exc.reason, session)
        return self.page(request, "done.html.j2", outcome="checked_in" if result.new else "already",
                         matched=result.checkin.matched, email=checkin.email,
                         session=self.describe(session))

    # -- the organiser -------------------------------------------------------------------
    def organiser(self, handler: Callable[[Request, MeetupSession], Awaitable[Response]]
                  ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                session = self.desk.organiser_session(request.path_params["token"], datetime.now(UTC))
            except CheckInRefused:
                return self.refused(request, "no_link", organiser=True)
            if request.method == "POST":
                data = await request.form()
                if not self.desk.tokens.form_ok(_field(data, "csrf"), _organiser_scope(session),
                                                self.device(request)):
                    return self.refused(request, "forged", session, organiser=True)
                request.state.form = data
            return await handler(request, session)
        return endpoint

    def back(self, request: Request, notice: str) -> Response:
        return RedirectResponse(f"/o/{request.path_params['token']}?notice={notice}", status_code=303)

    async def organiser_page(self, request: Request, session: MeetupSession) -> Response:
        device = self.device(request)
        if device is None:  # the forms need one: the page comes back with the cookie set
            return self.with_device(request, RedirectResponse(str(request.url), 303))
        token = request.path_params["token"]
        notice = request.query_params.get("notice", "")
        return self.page(request, "organiser.html.j2", session=self.describe(session),
                         token=token, csrf=self.desk.tokens.form(_organiser_scope(session), device),
                         state=self.desk.state(session, datetime.now(UTC)),
                         closed=session.closed_at is not None, notice=notice,
                         attendees=self.attendees(session))

    def attendees(self, session: MeetupSession) -> list[dict[str, Any]]:
        zone = ZoneInfo(session.timezone)
        return [{"id": c.id, "label": c.fullname if c.matched and c.fullname else mask_email(c.email),
                 "method": c.method, "status": c.status, "matched": c.matched,
                 "time": c.created_at.astimezone(zone).strftime("%H:%M")}
                for c in self.store.meetups.checkins(session.id)]

    async def organiser_state(self, request: Request, session: MeetupSession) -> Response:
        """What the organiser's page polls: small, and 304 when nothing changed."""
        now = datetime.now(UTC)
        people = self.attendees(session)
        body = {"state": self.desk.state(session, now), "closed": session.closed_at is not None,
                "window": self.desk.tokens.window(now), "count": len(people), "attendees": people}
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-store"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return JSONResponse(body, headers=headers)

    async def organiser_qr(self, request: Request, session: MeetupSession) -> Response:
        # A quiet zone of 4 modules, as the QR standard asks: read from the back of a room.
        return Response(qr_svg(self.desk.checkin_url(session, datetime.now(UTC)), fit=True),
                        media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    async def organiser_add(self, request: Request, session: MeetupSession) -> Response:
        try:
            result: Result = self.desk.check_in(session, _field(request.state.form, "email")[:320],
                                                "organiser")
        except CheckInRefused as exc:
            return self.back(request, exc.reason)
        return self.back(request, "added" if result.new else "already")

    async def organiser_remove(self, request: Request, session: MeetupSession) -> Response:
        raw = _field(request.state.form, "checkin")
        removed = raw.isdigit() and self.desk.remove(session, int(raw))
        return self.back(request, "removed" if removed else "not_removed")

    async def organiser_close(self, request: Request, session: MeetupSession) -> Response:
        self.store.meetups.close(session.id)
        return self.back(request, "closed")

    async def sheet(self, request: Request, session: MeetupSession) -> Response:
        return self.page(request, "sheet.html.j2", session=self.describe(session),
                         rows=range(1, 26), token=request.path_params["token"])

    async def sheet_download(self, request: Request, session: MeetupSession) -> Response:
        lang = self.lang_of(request)
        return Response(sheet_csv(session, lang), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{session.id}.csv"',
                                 "Cache-Control": "no-store"})


def _field(data: Any, name: str) -> str:
    value = data.get(name) if data is not None else None
    return value.strip() if isinstance(value, str) else ""


def _organiser_scope(session: MeetupSession) -> str:
    return f"organiser:{session.id}:{session.link_generation}"


def meetup_routes(config: Config, store: Store, html: Html,
                  lang_of: Callable[[Request], str]) -> list[BaseRoute]:
    pages = _Pages(config, store, html, lang_of)
    org = pages.organiser
    return [
        Route("/m/confirm/{token}", pages.confirm_link, methods=["GET", "POST"]),
        Route("/m/{session_id}", pages.form, methods=["GET"]),
        Route("/m/{session_id}", pages.submit, methods=["POST"]),
        Route("/m/{session_id}/{token}", pages.scan),
        Route("/o/{token}", org(pages.organiser_page)),
        Route("/o/{token}/state", org(pages.organiser_state)),
        Route("/o/{token}/qr.svg", org(pages.organiser_qr)),
        Route("/o/{token}/add", org(pages.organiser_add), methods=["POST"]),
        Route("/o/{token}/remove", org(pages.organiser_remove), methods=["POST"]),
        Route("/o/{token}/close", org(pages.organiser_close), methods=["POST"]),
        Route("/o/{token}/sheet", org(pages.sheet)),
        Route("/o/{token}/sheet.csv", org(pages.sheet_download)),
    ]
