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

__all__ = ["admin_routes"]


def admin_routes(config: Config, store: Store) -> list[Route]:
    if config.web.admin_token is None:
        return []
    token = config.web.admin_token.get_secret_value().encode()

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
            if not hmac.compare_digest(given, token):  # constant time: the token is a secret
                return JSONResponse({"error": "admin token required"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return await handler(request)
        return endpoint

    async def runs(request: Request) -> Response:
        out = []
        for run in store.runs.list(int(request.query_params.get("limit", 20)),
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
        body = await request.json()
        reason = str(body.get("reason") or "").strip()
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
