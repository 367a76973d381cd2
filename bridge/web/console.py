"""The coordinators' console under `/admin`: server-rendered pages behind a login.

Accounts are created with `badge-bridge admin add` (argon2id hashes). Logging in opens a session
kept in the database (the cookie is a random token, the table holds its sha256), so any number
of web workers share sessions and logging out ends one for good. The cookie is HttpOnly,
SameSite=Strict, limited to /admin, and Secure when the public URL is https. Every form carries
the session's CSRF token (the login form: a token bound to a pre-login cookie); a POST without
the right one is refused. Failed logins are counted per account and address, per account, and
per address, in the database; past a limit, the login is refused for the rest of the window.
Revoke, re-send, erase and linking a check-in are written to the audit log with who did them.

What needs the rule engine, the delivery job or the connectors comes from the injected
`ConsoleServices` (bridge.console): this package may not import them. The slow calls (password
hashes, sending, evaluating every learner) run in the thread pool, not on the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_timedelta
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge import i18n
from bridge.accounts import dummy_verify, hash_password, needs_rehash, verify_password
from bridge.config import Config
from bridge.console import ConsoleSetup
from bridge.errors import BridgeError, NotFound
from bridge.model import Finding, FindingStatus
from bridge.store import Award, Run, Store
from bridge.store.admin import AdminSession

__all__ = ["console_routes", "SESSION_COOKIE", "LOGIN_COOKIE", "LANG_COOKIE", "MAX_FAILURES",
           "MAX_ACCOUNT_FAILURES", "MAX_ADDRESS_FAILURES", "THROTTLE_WINDOW"]

Html = Callable[..., Response]
Handler = Callable[[Request, AdminSession], Awaitable[Response]]

SESSION_COOKIE = "bb_admin"
LOGIN_COOKIE = "bb_admin_login"
LANG_COOKIE = "bb_admin_lang"
SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per account and address, in the window
MAX_ACCOUNT_FAILURES = 50  # per account from anywhere: guessing from many addresses
MAX_ADDRESS_FAILURES = 30  # per address whatever the account: trying many names
STATUSES = ("valid", "expired", "revoked")
DOCTOR_TTL = timedelta(minutes=5)  # the health check probes platforms: not at every page view


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _ago(lang: str, now: datetime) -> Callable[[datetime | None], str]:
    """How long ago, in the page's language ("3 hours ago")."""
    def ago(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_timedelta(moment - now, add_direction=True, locale=lang)
    return ago


class _Console:
    def __init__(self, config: Config, store: Store, setup: ConsoleSetup, render: Html,
                 lang_of: Callable[[Request], str]) -> None:
        self.config, self.store, self.setup = config, store, setup
        self.services = setup.services
        self.render, self.lang_of = render, lang_of
        self.secure = config.bridge.public_url.startswith("https://")
        self._health: dict[str, tuple[datetime, list[Finding]]] = {}

    # -- plumbing -------------------------------------------------------------------
    def lang(self, request: Request) -> str:
        """?lang= (remembered in a cookie), else the remembered one, else the browser's."""
        asked = request.query_params.get("lang")
        if asked in i18n.languages():
            return str(asked)
        kept = request.cookies.get(LANG_COOKIE)
        return kept if kept in i18n.languages() else self.lang_of(request)

    def page(self, request: Request, template: str, session: AdminSession | None,
             status: int = 200, **context: Any) -> Response:
        lang = self.lang(request)
        with i18n.language(lang):
            response = self.render(f"web/admin/{template}", lang, status,
                                   user=session.username if session else None,
                                   csrf=session.csrf if session else "",
                                   here=request.url.path, ago=_ago(lang, datetime.now(UTC)),
                                   **context)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        asked = request.query_params.get("lang")
        if asked in i18n.languages():
            response.set_cookie(LANG_COOKIE, str(asked), max_age=365 * 24 * 3600, path="/admin",
                                httponly=True, samesite="strict", secure=self.secure)
        return response

    def refused(self, request: Request, session: AdminSession | None, reason: str,
                status: int) -> Response:
        return self.page(request, "refused.html.j2", session, status, reason=reason)

    def session_of(self, request: Request) -> AdminSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        return self.store.admin.session(_digest(token)) if token else None

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The page for a live session; the login page otherwise. A POST also needs the session's
        CSRF token in its form."""
        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:
                if request.method != "GET":
                    return self.refused(request, None, "no_session", 403)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/admin/login?{urlencode({'next': target})}", status_code=303)
            if request.method == "POST":
                form = await request.form()
                given = str(form.get("csrf") or "")
                if not given or not hmac.compare_digest(given.encode(), session.csrf.encode()):
                    return self.refused(request, session, "csrf", 403)
            return await handler(request, session)
        return endpoint

    def done(self, path: str, code: str) -> Response:
        """Back to a page after a POST, saying what happened (Post/Redirect/Get)."""
        return RedirectResponse(f"{path}?{urlencode({'done': code})}", status_code=303)

    def audit(self, request: Request, session: AdminSession, action: str, target: str,
              **detail: Any) -> None:
        self.store.admin.audit(session.username, action, target, detail, _address(request))

    # -- login ------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        target = str(request.query_params.get("next") or "/admin")
        if not target.startswith("/admin") or target.startswith("//"):
            target = "/admin"  # only back into the console: no open redirect
        if request.method == "GET":
            if self.session_of(request) is not None:
                return RedirectResponse(target, status_code=303)
            return self.login_page(request, target)
        form = await request.form()
        given, kept = str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE, "")
        if not given or not kept or not hmac.compare_digest(given.encode(), kept.encode()):
            return self.login_page(request, target, "csrf", 403)
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        address = _address(request)
        # Hashed: a password typed in the name field by mistake is not kept in clear.
        keys = [_digest(k) for k in (f"{username.lower()}|{address}", f"{username.lower()}|*",
                                     f"*|{address}")]
        since = datetime.now(UTC) - THROTTLE_WINDOW
        counts = self.store.admin.failures(keys, since)
        if (counts[keys[0]] >= MAX_FAILURES or counts[keys[1]] >= MAX_ACCOUNT_FAILURES
                or counts[keys[2]] >= MAX_ADDRESS_FAILURES):
            return self.login_page(request, target, "throttled", 429)
        account = self.store.admin.account(username) if username else None
        if account is None:
            await run_in_threadpool(dummy_verify, password)  # as long as a wrong password: names are not probed by timing
            ok = False
        else:
            ok = await run_in_threadpool(verify_password, account.password_hash, password)
        if not ok or account is None:
            self.store.admin.record_failure(keys, since)
            return self.login_page(request, target, "wrong", 401, username=username)
        self.store.admin.clear_failures(keys[:1])
        if needs_rehash(account.password_hash):
            self.store.admin.set_password(account.username, hash_password(password))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.store.admin.open_session(account.id, _digest(token), csrf, SESSION_LIFETIME)
        self.store.admin.audit(account.username, "login", account.username, {}, _address(request))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, path="/admin", httponly=True, samesite="strict",
                            secure=self.secure)
        response.delete_cookie(LOGIN_COOKIE, path="/admin/login")
        return response

    def login_page(self, request: Request, target: str, error: str = "", status: int = 200,
                   username: str = "") -> Response:
        token = secrets.token_urlsafe(32)
        response = self.page(request, "login.html.j2", None, status, login_csrf=token, error=error,
                             next=target, username=username,
                             has_accounts=bool(self.store.admin.accounts()))
        response.set_cookie(LOGIN_COOKIE, token, path="/admin/login", httponly=True,
                            samesite="strict", secure=self.secure, max_age=3600)
        return response

    async def logout(self, request: Request, session: AdminSession) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        self.store.admin.close_session(_digest(token))
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    # -- dashboard ----------------------------------------------------------------------
    async def dashboard(self, request: Request, session: AdminSession) -> Response:
        now = datetime.now(UTC)
        runs = self.store.runs.last(100)
        latest: dict[str, Run] = {}
        for run in runs:
            for source in run.sources:
                latest.setdefault(source, run)
        sources = []
        for sid in sorted(set(self.config.sources) | set(latest)):
            last = latest.get(sid)
            errors = [e for e in self.store.runs.errors(last.id) if e.source == sid] if last else []
            status = "never" if last is None else ("error" if errors else last.status)
            moment = (last.finished_at or last.started_at) if last else None
            sources.append({"id": sid, "run": last, "status": status, "errors": len(errors),
                            "at": moment, "age": now - moment if moment else None})
        outbox = self.store.admin.outbox_counts()
        backlog = {ch: sum(n for (c, s), n in outbox.items() if c == ch and s in ("pending", "sending"))
                   for ch in ("email", "push")}
        failed = {ch: sum(n for (c, s), n in outbox.items() if c == ch and s == "failed")
                  for ch in ("email", "push")}
        findings, checked_at, doctor_error = None, None, ""
        if self.setup.doctor is not None:
            try:
                checked_at, findings = await run_in_threadpool(self.health, self.lang(request))
            except BridgeError as exc:
                doctor_error = str(exc)
        return self.page(request, "dashboard.html.j2", session, sources=sources, backlog=backlog,
                         failed=failed, failures=self.store.admin.failed_deliveries(10),
                         week=self.store.admin.awards_since(now - timedelta(days=7)),
                         findings=findings, checked_at=checked_at, doctor_error=doctor_error,
                         last_run=runs[0] if runs else None, now=now)

    def health(self, lang: str) -> tuple[datetime, list[Finding]]:
        """What the health check flags (its failures and warnings), in `lang`. It probes every
        platform, the SMTP server and the public URL: its answer is kept DOCTOR_TTL per language."""
        assert self.setup.doctor is not None
        now = datetime.now(UTC)
        kept = self._health.get(lang)
        if kept is not None and now - kept[0] < DOCTOR_TTL:
            return kept
        with i18n.language(lang):
            found = [f for f in self.setup.doctor() if f.status != FindingStatus.ok]
        self._health[lang] = (now, found)
        return now, found

    # -- runs ------------------------------------------------------------------------------
    async def runs(self, request: Request, session: AdminSession) -> Response:
        return self.page(request, "runs.html.j2", session, runs=self.store.runs.list(50))

    async def run(self, request: Request, session: AdminSession) -> Response:
        run_id = request.path_params["run_id"]
        run = self.store.runs.get(run_id)
        if run is None:
            return self.refused(request, session, "not_found", 404)
        return self.page(request, "run.html.j2", session, run=run, errors=self.store.runs.errors(run.id))

    # -- awards ----------------------------------------------------------------------------
    async def awards(self, request: Request, session: AdminSession) -> Response:
        q = request.query_params
        text, badge, status = (str(q.get(k) or "").strip() for k in ("q", "badge", "status"))
        rows = self.store.admin.search_awards(text=text, badge_id=badge, limit=200,
                                              validity=status if status in STATUSES else "")
        return self.page(request, "awards.html.j2", session, rows=rows, q=text, badge=badge,
                         status_filter=status, statuses=STATUSES,
                         badges=[b.id for b in self.store.awards.badges()])

    def _award(self, request: Request) -> Award | None:
        return self.store.awards.get(request.path_params["award_id"])

    async def award(self, request: Request, session: AdminSession) -> Response:
        award = self._award(request)
        if award is None:
            return self.refused(request, session, "not_found", 404)
        learner = self.store.facts.learners([award.learner_id]).get(award.learner_id)
        return self.page(request, "award.html.j2", session, award=award, learner=learner,
                         validity=award.validity(), done=request.query_params.get("done", ""),
                         deliveries=self.store.outbox.items(award_id=award.id),
                         page_url=self.config.bridge.public_url.rstrip("/") + f"/v/{award.id}")

    async def revoke(self, request: Request, session: AdminSession) -> Response:
        award = self._award(request)
        if award is None:
            return self.refused(request, session, "not_found", 404)
        reason = str((await request.form()).get("reason") or "").strip()
        if not reason:
            return self.refused(request, session, "reason", 400)
        revoked = await run_in_threadpool(self.services.revoke, award.id, reason[:500])
        if revoked:
            self.audit(request, session, "revoke", award.id, reason=reason[:500])
        return self.done(f"/admin/awards/{award.id}", "revoked" if revoked else "already_revoked")

    async def resend(self, request: Request, session: AdminSession) -> Response:
        award = self._award(request)
        if award is None:
            return self.refused(request, session, "not_found", 404)
        if award.validity() == "revoked" or award.recipient_email is None:
            return self.refused(request, session, "revoked", 409)
        outcome = await run_in_threadpool(self.services.resend, award.id)
        self.audit(request, session, "resend", award.id, sent=outcome.sent, retry=outcome.retry,
                   failed=outcome.failed)
        return self.done(f"/admin/awards/{award.id}", "sent" if outcome.sent else "queued")

    # -- learners --------------------------------------------------------------------------
    async def learners(self, request: Request, session: AdminSession) -> Response:
        text = str(request.query_params.get("q") or "").strip()
        found = self.store.admin.find_learners(text) if text else []
        return self.page(request, "learners.html.j2", session, q=text, found=found,
                         done=request.query_params.get("done", ""))

    async def learner(self, request: Request, session: AdminSession) -> Response:
        learner_id = request.path_params["learner_id"]
        learner = self.store.facts.learners([learner_id]).get(learner_id)
        if learner is None or learner.email is None:
            return self.refused(request, session, "not_found", 404)
        lang = self.lang(request)
        facts = sorted(self.store.facts.of_learners([learner_id]).get(learner_id, []),
                       key=lambda f: (f.source, f.course, f.kind.value, f.item))
        by_source: dict[str, list[Any]] = {}
        for fact in facts:
            by_source.setdefault(fact.source, []).append(fact)
        asked = str(request.query_params.get("badge") or "")
        try:
            badges = self.services.badges(lang)
            explanation = (await run_in_threadpool(self.services.explain, learner.email, asked, lang)
                           if asked else None)
            problem = ""
        except BridgeError as exc:  # the rule files are broken right now: say so, show the rest
            badges, explanation, problem = [], None, str(exc)
        return self.page(request, "learner.html.j2", session, learner=learner,
                         identities=self.store.admin.identities_of(learner_id), facts=by_source,
                         awards=self.store.awards.of_learners([learner_id]).get(learner_id, []),
                         badges=badges, asked=asked, explanation=explanation, problem=problem)

    async def erase(self, request: Request, session: AdminSession) -> Response:
        learner_id = request.path_params["learner_id"]
        learner = self.store.facts.learners([learner_id]).get(learner_id)
        if learner is None or learner.email is None:
            return self.refused(request, session, "not_found", 404)
        if request.method == "GET":
            return self.page(request, "erase.html.j2", session, learner=learner, mismatch=False)
        typed = str((await request.form()).get("confirm_email") or "").strip().lower()
        if typed != learner.email:  # the confirmation: the address typed again
            return self.page(request, "erase.html.j2", session, 400, learner=learner, mismatch=True)
        erased = await run_in_threadpool(self.services.erase, learner.email)
        if erased is None:
            return self.refused(request, session, "not_found", 404)
        # The audit log keeps who erased whom by the learner's number, never the address.
        self.audit(request, session, "erase", f"learner {learner_id}", facts=erased.facts,
                   identities=erased.identities, awards_revoked=erased.awards_revoked,
                   report_rows=erased.report_rows)
        return self.done("/admin/learners", "erased")

    # -- badges and rules --------------------------------------------------------------------
    async def badges(self, request: Request, session: AdminSession) -> Response:
        try:
            badges = self.services.badges(self.lang(request))
            problem = ""
        except BridgeError as exc:
            badges, problem = [], str(exc)
        return self.page(request, "badges.html.j2", session, badges=badges, problem=problem)

    async def badge(self, request: Request, session: AdminSession) -> Response:
        badge_id = request.path_params["badge_id"]
        try:
            found = next((b for b in self.services.badges(self.lang(request)) if b.id == badge_id), None)
        except BridgeError:
            found = None
        published = self.store.awards.badge(badge_id)
        if found is None and published is None:
            return self.refused(request, session, "not_found", 404)
        versions = self.store.admin.rule_versions(badge_id)
        uses = {u.version: u for u in self.store.admin.version_uses(badge_id)}
        recorded = {v.version for v in versions}
        return self.page(request, "badge.html.j2", session, badge_id=badge_id, badge=found,
                         published=published, versions=versions, uses=uses,
                         older=[u for v, u in uses.items() if v not in recorded])

    async def dry_run(self, request: Request, session: AdminSession) -> Response:
        return self.page(request, "dry_run.html.j2", session, result=await run_in_threadpool(self.services.dry_run))

    # -- meetups -----------------------------------------------------------------------------
    async def meetups(self, request: Request, session: AdminSession) -> Response:
        sessions = sorted(self.store.meetups.sessions(), key=lambda s: s.starts_at, reverse=True)
        counts = {s.id: len(self.store.meetups.checkins(s.id)) for s in sessions}
        titles = {s.id: s.title for s in sessions}
        return self.page(request, "meetups.html.j2", session, sessions=sessions, counts=counts,
                         unmatched=self.store.meetups.unmatched(), titles=titles,
                         done=request.query_params.get("done", ""))

    async def meetup(self, request: Request, session: AdminSession) -> Response:
        found = self.store.meetups.get(request.path_params["session_id"])
        if found is None:
            return self.refused(request, session, "not_found", 404)
        return self.page(request, "meetup.html.j2", session, meetup=found,
                         checkins=self.store.meetups.checkins(found.id))

    async def link(self, request: Request, session: AdminSession) -> Response:
        checkin_id = request.path_params["checkin_id"]
        email = str((await request.form()).get("email") or "").strip().lower()
        if not email:
            return self.refused(request, session, "email", 400)
        try:
            linked = self.services.link_checkin(checkin_id, email)
        except NotFound:
            return self.refused(request, session, "no_learner", 404)
        if linked:
            self.audit(request, session, "link_checkin", f"check-in {checkin_id}",
                       learner=(found.id if (found := self.store.facts.learner_by_email(email)) else None))
        return self.done("/admin/meetups", "linked" if linked else "already_linked")

    # -- audit ---------------------------------------------------------------------------------
    async def audit_log(self, request: Request, session: AdminSession) -> Response:
        return self.page(request, "audit.html.j2", session, entries=self.store.admin.audit_log(300))


def console_routes(config: Config, store: Store, setup: ConsoleSetup | None, render: Html,
                   lang_of: Callable[[Request], str]) -> list[BaseRoute]:
    """The console's routes; none when the web app was started without its services."""
    if setup is None:
        return []
    c = _Console(config, store, setup, render, lang_of)
    g = c.guarded
    return [
        Route("/admin/login", c.login, methods=["GET", "POST"]),
        Route("/admin/logout", g(c.logout), methods=["POST"]),
        Route("/admin", g(c.dashboard)),
        Route("/admin/runs", g(c.runs)),
        Route("/admin/runs/{run_id:int}", g(c.run)),
        Route("/admin/awards", g(c.awards)),
        Route("/admin/awards/{award_id}", g(c.award)),
        Route("/admin/awards/{award_id}/revoke", g(c.revoke), methods=["POST"]),
        Route("/admin/awards/{award_id}/resend", g(c.resend), methods=["POST"]),
        Route("/admin/learners", g(c.learners)),
        Route("/admin/learners/{learner_id:int}", g(c.learner)),
        Route("/admin/learners/{learner_id:int}/erase", g(c.erase), methods=["GET", "POST"]),
        Route("/admin/badges", g(c.badges)),
        Route("/admin/badges/{badge_id}", g(c.badge)),
        Route("/admin/dry-run", g(c.dry_run)),
        Route("/admin/meetups", g(c.meetups)),
        Route("/admin/meetups/{session_id}", g(c.meetup)),
        Route("/admin/checkins/{checkin_id:int}/link", g(c.link), methods=["POST"]),
        Route("/admin/audit", g(c.audit_log)),
    ]

