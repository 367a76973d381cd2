"""The public web app (ASGI): hosted Open Badges 2.0/3.0 documents, verification pages, health.

Hosted URLs answer JSON-LD to machines and the human page to browsers (content negotiation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bridge import i18n
from bridge.config import Config
from bridge.console import ConsoleSetup
from bridge.delivery.templates import render
from bridge.errors import ConfigError, NotFound
from bridge.issuing import did, ob2
from bridge.issuing.issuer import Format, Issuer
from bridge.issuing.share import qr_svg
from bridge.store import Award, Badge, Store
from bridge.web.admin import admin_routes
from bridge.web.console import console_routes
from bridge.web.health import healthz, readyz_handler, token_guard
from bridge.web.issuer_pages import badge_context, home_context
from bridge.web.meetups import meetup_routes
from bridge.web.metrics import metrics_registry
from bridge.web.page import page_context
from bridge.web.security import SecurityHeaders
from bridge.web.wallet import offer_links, wallet_routes

__all__ = ["create_app"]

JSONLD = "application/ld+json"
Handler = Callable[[Request], Awaitable[Response]]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]


def _json(doc: dict[str, Any], status: int = 200, media_type: str = JSONLD) -> JSONResponse:
    return JSONResponse(doc, status_code=status, media_type=media_type,
                        headers={"Access-Control-Allow-Origin": "*"})


def _image(data: bytes, ext: str, name: str) -> Response:
    return Response(data, media_type="image/png" if ext == "png" else "image/svg+xml",
                    headers={"Content-Disposition": f'inline; filename="{name}.{ext}"',
                             "Access-Control-Allow-Origin": "*"})


def create_app(config: Config, store: Store, console: ConsoleSetup | None = None) -> Starlette:
    """The app; with `console`, the coordinators' pages under /admin too."""
    issuer = Issuer(config, store)
    urls = issuer.urls
    templates = config.bridge.templates_dir
    default_lang = config.bridge.default_language

    def lang_of(request: Request) -> str:
        """`?lang=` if a catalog has it, else the best of Accept-Language, else the default."""
        return i18n.negotiate([request.query_params.get("lang"),
                               *i18n.accept_language(request.headers.get("accept-language"))],
                              default_lang)

    def html(template: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("other_languages", [(code, i18n.display_name(code))
                                               for code in i18n.languages() if code != lang])
        page = render(template, lang, templates, static_url=urls.static(""), home_url=urls.home(),
                      **context)
        return HTMLResponse(page, status_code=status_code,
                            headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"})

    def not_found(request: Request, badge: bool = True) -> Response:
        if _wants_html(request):
            return html("web/not_found.html.j2", lang_of(request), 404, badge=badge,
                        issuer_name=config.issuer.name)
        return JSONResponse({"error": "not found"}, status_code=404)

    published: set[str] = set()  # badges are never unpublished: known once, known for good

    def badge_known(badge_id: str) -> bool:
        if badge_id not in published and store.awards.badge_published(badge_id):
            published.add(badge_id)
        return badge_id in published

    def with_award(handler: Callable[[Request, Award], Response], *,
                   json_inline: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint reading the award by its id, then answering with `handler`.

        The read is one primary-key look-up (about 0.1 ms on SQLite), made on the event loop as
        a bare Starlette app makes it: handing it to the thread pool cost more than the whole
        request (bench/web.py: 0.24x a bare app with the hop, 0.7x without). What the handler
        builds runs in the thread pool (pages, images, signatures), except a JSON answer the
        handler serves from its cache (`json_inline`: the hosted assertion)."""
        async def endpoint(request: Request) -> Response:
            award = store.awards.get(request.path_params["award_id"])
            if award is None or not badge_known(award.badge_id):
                return await run_in_threadpool(not_found, request)
            if award.recipient_email is None and handler is not verify:
                return await run_in_threadpool(erased, request, award)
            if json_inline and not _wants_html(request):
                return handler(request, award)
            return await run_in_threadpool(handler, request, award)
        return endpoint

    def erased(request: Request, award: Award) -> Response:
        """An award whose learner was erased: revoked, and nothing about the person is left."""
        if _wants_html(request):
            return verify_page(request, award)
        return _json({"@context": ob2.OB2_CONTEXT, "type": "Assertion", "id": urls.assertion(award.id),
                      "revoked": True, "revocationReason": award.revocation_reason or ""}, 410)

    registry = metrics_registry(store)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def did_document(request: Request) -> Response:
        if request.url.path != did.did_document_path(config.bridge.public_url):
            return not_found(request)
        return _json(issuer.did_document(), media_type="application/did+ld+json")

    async def issuer_profile(request: Request) -> Response:
        return _json(issuer.ob2_issuer())

    async def home(request: Request) -> Response:
        """The issuer's page to browsers, its OB 2.0 profile to machines."""
        if not _wants_html(request):
            return _json(issuer.ob2_issuer())
        lang = lang_of(request)
        return html("web/home.html.j2", lang, **home_context(issuer, store.awards.badges(), lang))

    def badge_page(request: Request, badge: Badge) -> Response:
        lang = lang_of(request)
        return html("web/badge.html.j2", lang, **badge_context(issuer, badge, lang))

    async def issuer_image(request: Request) -> Response:
        path = config.issuer.image
        if path is None or not path.is_file():
            return not_found(request)
        return Response(path.read_bytes(),
                        media_type="image/svg+xml" if path.suffix == ".svg" else "image/png")

    async def ob2_key(request: Request) -> Response:
        key = next((k for k in issuer.keys("rsa") if k.kid == request.path_params["kid"]), None)
        return _json(ob2.cryptographic_key(urls, key)) if key else not_found(request)

    async def badge_class(request: Request) -> Response:
        badge = store.awards.badge(request.path_params["badge_id"])
        if badge is None:
            return not_found(request)
        if _wants_html(request):
            return badge_page(request, badge)
        # An award's assertion names the BadgeClass in its language (?lang=); the plain URL is
        # the issuer's default language.
        lang = request.query_params.get("lang")
        tagged = lang in i18n.languages()
        return _json(ob2.badge_class(urls, badge.id, badge.definition,
                                     lang if lang and tagged else default_lang, tagged))

    async def achievement(request: Request) -> Response:
        badge = store.awards.badge(request.path_params["badge_id"])
        if badge is None:
            return not_found(request)
        if _wants_html(request):
            return badge_page(request, badge)
        return _json(issuer.achievement(badge.id))

    async def badge_image(request: Request) -> Response:
        badge = store.awards.badge(request.path_params["badge_id"])
        if badge is None or badge.image is None:
            return not_found(request)
        return Response(badge.image, media_type=badge.image_type,
                        headers={"Cache-Control": "public, max-age=3600"})

    def assertion(request: Request, award: Award) -> Response:
        if _wants_html(request):
            return verify_page(request, award)
        # The OB 2.0 hosted-verification convention: a revoked assertion answers 410 Gone.
        return Response(hosted_json(award), status_code=410 if award.status == "revoked" else 200,
                        media_type=JSONLD, headers={"Access-Control-Allow-Origin": "*"})

    hosted: dict[tuple[Any, ...], bytes] = {}

    def hosted_json(award: Award) -> bytes:
        """The hosted assertion's bytes, built once per state of the award (what may change
        after issuing is in the key, read from the row at each request: a revocation is served
        at once)."""
        key = (award.id, award.status, award.revocation_reason, award.recipient_email,
               award.salt, award.issued_at, award.expires_at, award.lang, award.badge_id)
        body = hosted.get(key)
        if body is None:
            if len(hosted) >= 4096:
                hosted.clear()
            body = hosted[key] = bytes(JSONResponse(issuer.ob2_hosted(award)).body)
        return body

    def signed(request: Request, award: Award) -> Response:
        return PlainTextResponse(issuer.ob2_signed(award), headers={"Access-Control-Allow-Origin": "*"})

    def credential(request: Request, award: Award) -> Response:
        if _wants_html(request):
            return verify_page(request, award)
        return _json(issuer.ob3_credential(award), media_type="application/vc+ld+json")

    def credential_jwt(request: Request, award: Award) -> Response:
        return PlainTextResponse(issuer.ob3_jwt(award), media_type="application/vc+jwt",
                                 headers={"Access-Control-Allow-Origin": "*"})

    def baked(fmt: Format) -> Callable[[Request], Awaitable[Response]]:
        def handler(request: Request, award: Award) -> Response:
            try:
                data = issuer.baked(award, fmt)
            except NotFound:
                return not_found(request)
            kind, ext = fmt.split(".")
            return _image(data, ext, f"badge-{award.id}-{kind}")
        return with_award(handler)

    async def revocations(request: Request) -> Response:
        return _json(issuer.ob2_revocation_list())

    async def status_list(request: Request) -> Response:
        list_id = request.path_params["list_id"]
        return _json(issuer.status_list_credential(list_id), media_type="application/vc+ld+json")

    def verify(request: Request, award: Award) -> Response:
        return verify_page(request, award)

    def page_qr(request: Request, award: Award) -> Response:
        return Response(qr_svg(urls.verify_page(award.id)), media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})

    async def name_choice(request: Request) -> Response:
        """The learner's choice to hide their name, from the signed link of their email: the
        link shows the choice, only the form's POST changes it (mail scanners follow links)."""
        award = store.awards.get(request.path_params["award_id"])
        form = await request.form() if request.method == "POST" else None
        token = str((form or request.query_params).get("t") or "")
        if award is None or award.recipient_email is None or issuer.links.award_of(token) != award.id:
            return not_found(request)
        lang = lang_of(request)
        if form is not None:
            store.awards.hide_name(award.learner_id, form.get("hide") == "1")
            return RedirectResponse(f"{urls.verify_page(award.id)}?lang={lang}", status_code=303)
        return html("web/name_choice.html.j2", lang, other_languages=[], hidden=award.name_hidden,
                    token=token, action_url=urls.verify_page(award.id) + "/name",
                    page_url=urls.verify_page(award.id), issuer_name=config.issuer.name)

    def verify_page(request: Request, award: Award) -> Response:
        lang = lang_of(request)
        status = award.validity()
        offer = offer_links(issuer, award.id) if config.bridge.wallet_offers and status == "valid" else None
        return html("web/verify.html.j2", lang, **page_context(issuer, award, lang, status, offer))

    async def no_key(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=503)

    async def no_route(request: Request, exc: Exception) -> Response:
        return not_found(request, badge=False)  # a path no route serves

    return Starlette(middleware=[Middleware(SecurityHeaders, public_url=config.bridge.public_url)],
                     routes=[
        Route("/", home),
        Mount("/static", app=StaticFiles(packages=[("bridge", "static")]), name="static"),
        Route("/healthz", healthz),
        Route("/readyz", readyz_handler(config, store)),
        Route("/metrics", token_guard(config, metrics)),
        Route("/.well-known/did.json", did_document),
        Route("/did.json", did_document),
        Route("/ob2/issuer", issuer_profile),
        Route("/ob2/issuer/image", issuer_image),
        Route("/ob2/keys/{kid}", ob2_key),
        Route("/ob2/badges/{badge_id}", badge_class),
        Route("/ob2/badges/{badge_id}/image", badge_image),
        Route("/ob2/assertions/{award_id}", with_award(assertion, json_inline=True)),
        Route("/ob2/assertions/{award_id}/badge.png", baked("ob2.png")),
        Route("/ob2/assertions/{award_id}/badge.svg", baked("ob2.svg")),
        Route("/ob2/assertions/{award_id}/signed", with_award(signed)),
        Route("/ob2/assertions/{award_id}/signed.png", baked("ob2-signed.png")),
        Route("/ob2/assertions/{award_id}/signed.svg", baked("ob2-signed.svg")),
        Route("/ob2/revocations", revocations),
        Route("/ob3/achievements/{badge_id}", achievement),
        Route("/ob3/credentials/{award_id}", with_award(credential)),
        Route("/ob3/credentials/{award_id}/jwt", with_award(credential_jwt)),
        Route("/ob3/credentials/{award_id}/badge.png", baked("ob3.png")),
        Route("/ob3/credentials/{award_id}/badge.svg", baked("ob3.svg")),
        Route("/ob3/status/{list_id:int}", status_list),
        Route("/v/{award_id}", with_award(verify)),
        Route("/v/{award_id}/qr.svg", with_award(page_qr)),
        Route("/v/{award_id}/name", name_choice, methods=["GET", "POST"]),
        *admin_routes(config, store),
        *(wallet_routes(issuer, store) if config.bridge.wallet_offers else []),
        *meetup_routes(config, store, html, lang_of),
        *console_routes(config, store, console, html, lang_of),
    ], exception_handlers={ConfigError: no_key, 404: no_route})
