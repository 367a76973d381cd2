"""The public web app (ASGI): hosted Open Badges JSON, verification pages, health, metrics.

Hosted URLs answer JSON-LD to machines and the human page to browsers (content negotiation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bridge.config import Config
from bridge.delivery.templates import environment
from bridge.issuing import ob2
from bridge.issuing.bake import bake_png
from bridge.issuing.urls import Urls
from bridge.store import Store
from bridge.web.i18n import WORDS, pick_language

__all__ = ["create_app", "award_status"]

JSONLD = "application/ld+json"


def award_status(award: dict[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if award["status"] == "revoked":
        return "revoked"
    if award.get("expires_at") and award["expires_at"] <= now:
        return "expired"
    return "valid"


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]


def _json(doc: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(doc, status_code=status, media_type=JSONLD,
                        headers={"Access-Control-Allow-Origin": "*"})


def create_app(config: Config, store: Store) -> Starlette:
    urls = Urls(config.bridge.public_url)
    env = environment(config.bridge.templates_dir)
    default_lang = config.bridge.default_language

    def not_found(request: Request) -> Response:
        lang = pick_language(request.query_params.get("lang"), request.headers.get("accept-language"),
                             default_lang)
        if _wants_html(request):
            return HTMLResponse(f"<!doctype html><html lang=\"{lang}\"><title>404</title>"
                                f"<h1>{WORDS[lang]['not_found']}</h1></html>", status_code=404)
        return JSONResponse({"error": "not found"}, status_code=404)

    async def healthz(request: Request) -> Response:
        store.counts()
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        counts = store.counts()
        lines = [f"# TYPE badge_bridge_{k} gauge\nbadge_bridge_{k} {v}" for k, v in counts.items()]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def issuer(request: Request) -> Response:
        return _json(ob2.issuer_profile(urls, config.issuer))

    async def badge_class(request: Request) -> Response:
        badge = store.badge(request.path_params["badge_id"])
        if badge is None:
            return not_found(request)
        return _json(ob2.badge_class(urls, badge["id"], badge["definition"], default_lang))

    async def badge_image(request: Request) -> Response:
        badge = store.badge(request.path_params["badge_id"])
        if badge is None or badge["image"] is None:
            return not_found(request)
        return Response(badge["image"], media_type=badge["image_type"],
                        headers={"Cache-Control": "public, max-age=3600"})

    async def assertion(request: Request) -> Response:
        award = store.award(request.path_params["award_id"])
        if award is None:
            return not_found(request)
        if _wants_html(request):
            return verify_page(request, award)
        doc = ob2.assertion(urls, award)
        # The OB 2.0 hosted-verification convention: a revoked assertion answers 410 Gone.
        return _json(doc, 410 if award["status"] == "revoked" else 200)

    async def baked_png(request: Request) -> Response:
        award = store.award(request.path_params["award_id"])
        badge = store.badge(award["badge_id"]) if award else None
        if award is None or badge is None:
            return not_found(request)
        return Response(bake_png(badge["image"], ob2.assertion(urls, award)), media_type="image/png",
                        headers={"Content-Disposition": f'inline; filename="badge-{award["id"]}.png"'})

    async def revocations(request: Request) -> Response:
        return _json(ob2.revocation_list(urls, store.revoked_awards()))

    async def verify(request: Request) -> Response:
        award = store.award(request.path_params["award_id"])
        if award is None:
            return not_found(request)
        return verify_page(request, award)

    def verify_page(request: Request, award: dict[str, Any]) -> Response:
        lang = pick_language(request.query_params.get("lang"), request.headers.get("accept-language"),
                             default_lang)
        badge = store.badge(award["badge_id"]) or {"definition": {}}
        definition = badge["definition"]

        def text(field: str) -> str:
            values = definition.get(field) or {}
            return values.get(lang) or next(iter(values.values()), "")

        def day(value: datetime | None) -> str | None:
            return value.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d") if value else None

        doc = ob2.assertion(urls, award)
        evidence = [e["narrative"] for e in doc.get("evidence", [])]
        html = env.get_template("web/verify.html.j2").render(
            lang=lang, other_lang="en" if lang == "fr" else "fr", w=WORDS[lang],
            badge_name=text("name"), criteria=text("criteria") or text("description"),
            image_url=urls.badge_image(award["badge_id"]), png_url=urls.baked_png(award["id"]),
            page_url=urls.verify_page(award["id"]), assertion_url=urls.assertion(award["id"]),
            status=award_status(award), recipient_name=award.get("recipient_name"),
            issuer_name=config.issuer.name, issuer_url=config.issuer.url,
            issued_on=day(award["issued_at"]), issued_iso=award["issued_at"].isoformat(),
            expires_on=day(award.get("expires_at")),
            expires_iso=award["expires_at"].isoformat() if award.get("expires_at") else "",
            revoked_on=day(award.get("revoked_at")), revocation_reason=award.get("revocation_reason"),
            evidence=evidence)
        return HTMLResponse(html, headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"})

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/ob2/issuer", issuer),
        Route("/ob2/badges/{badge_id}", badge_class),
        Route("/ob2/badges/{badge_id}/image", badge_image),
        Route("/ob2/assertions/{award_id}", assertion),
        Route("/ob2/assertions/{award_id}/badge.png", baked_png),
        Route("/ob2/revocations", revocations),
        Route("/v/{award_id}", verify),
    ])
