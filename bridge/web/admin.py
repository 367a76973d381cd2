"""Admin endpoints for coordinators' tools: runs and their errors, awards, revoke, re-send.

Behind `Authorization: Bearer <[web] admin_token>`; without a configured token they do not exist.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.config import Config
from bridge.store import Store
from bridge.web.security import bearer_token

__all__ = ["admin_routes"]


class BadRequest(ValueError):
    """A request the admin endpoints cannot read: answered 400 with what was expected."""


def _limit(text: str | None, default: int = 20, most: int = 1000) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise BadRequest(f"limit: expected a whole number from 1 to {most}")
    return int(text)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("expected a JSON object as the body") from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object as the body")
    return body


def admin_routes(config: Config, store: Store) -> list[Route]:
    if config.web.admin_token is None:
        return []
    token = config.web.admin_token.get_secret_value().encode()
    if not token.strip():  # refused at config load; never an open door if it gets here
        return []

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            given = bearer_token(request)
            # constant time: the token is a secret
            if given is None or not hmac.compare_digest(given, token):
                return JSONResponse({"error": "admin token required"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            try:
                return await handler(request)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return endpoint

    async def runs(request: Request) -> Response:
        out = []
        for run in store.runs.list(_limit(request.query_params.get("limit")),
                                   status=request.query_params.get("status")):
            out.append({**run.as_dict(), "errors": [e.as_dict() for e in store.runs.errors(run.id)]})
        return JSONResponse(out)

    async def one_run(request: Request) -> Response:
        run = store.runs.get(int(request.path_params["run_id"]))
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse({**run.as_dict(), "errors": [e.as_dict() for e in store.runs.errors(run.id)]})

    async def awards(request: Request) -> Response:
        rows = store.awards.listing(badge_id=request.query_params.get("badge"),
                                    email=request.query_params.get("email"))
        return JSONResponse([a.summary() for a in rows])

    async def revoke(request: Request) -> Response:
        award_id = request.path_params["award_id"]
        body = await _json_object(request)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise BadRequest("reason: expected text")
        reason = " ".join((reason or "").split())[:500]
        if not reason:
            return JSONResponse({"error": "a reason is required"}, status_code=400)
        if store.awards.get(award_id) is None:
            return JSONResponse({"error": "no such award"}, status_code=404)
        return JSONResponse({"revoked": store.awards.revoke(award_id, reason)})

    async def resend(request: Request) -> Response:
        award_id = request.path_params["award_id"]
        award = store.awards.get(award_id)
        if award is None:
            return JSONResponse({"error": "no such award"}, status_code=404)
        if award.status == "revoked":
            return JSONResponse({"error": "the award is revoked"}, status_code=409)
        # Queued, not sent from the request: the next run's delivery step sends it.
        return JSONResponse({"queued": store.outbox.reset(f"email:{award_id}")}, status_code=202)

    return [
        Route("/api/admin/runs", guarded(runs)),
        Route("/api/admin/runs/{run_id:int}", guarded(one_run)),
        Route("/api/admin/awards", guarded(awards)),
        Route("/api/admin/awards/{award_id}/revoke", guarded(revoke), methods=["POST"]),
        Route("/api/admin/awards/{award_id}/resend", guarded(resend), methods=["POST"]),
    ]
