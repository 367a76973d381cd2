"""/healthz, /readyz and the guard of /metrics.

/healthz says the process answers (a liveness probe: restart it when it does not), and nothing
more: it reads nothing. /readyz says whether the service does its job: the store answers at the
schema this version expects, and every enabled source had a finished run (ok or partial) no
older than `[web] ready_max_age`; 503 with what is wrong otherwise. /metrics answers only
`Authorization: Bearer` with the admin token or the metrics token; without either configured
it does not exist (404), since it tells how many learners and awards there are.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.config import Config
from bridge.store import Store

__all__ = ["healthz", "readiness", "readyz_handler", "token_guard"]

Handler = Callable[[Request], Awaitable[Response]]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


def readiness(config: Config, store: Store, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(ready?, the details /readyz answers)."""
    from bridge.store.db import head_revision

    now = now or datetime.now(UTC)
    problems: list[str] = []
    try:
        revision = store.revision()
    except Exception as exc:  # the store's driver errors vary: any of them means not ready
        return False, {"status": "unready", "store": "unreachable",
                       "problems": [f"store unreachable: {type(exc).__name__}"]}
    if revision != head_revision():
        problems.append(f"store at revision {revision}, this version needs {head_revision()}: "
                        "run `badge-bridge db upgrade`")
    limit = config.web.ready_max_age
    last = store.runs.last_by_source()
    sources: dict[str, Any] = {}
    for sid, src in config.sources.items():
        if not src.enabled:
            continue
        run = last.get(sid)
        if run is None:
            sources[sid] = {"last_run": None}
            problems.append(f"source {sid}: no finished run yet")
            continue
        ended = run.finished_at or run.started_at
        age = round((now - ended).total_seconds())
        sources[sid] = {"last_run": run.id, "status": run.status, "finished_at": ended.isoformat(),
                        "age_seconds": age}
        if age > limit:
            problems.append(f"source {sid}: last finished run {run.id} is {age} s old "
                            f"(more than ready_max_age, {limit} s)")
    ready = not problems
    return ready, {"status": "ready" if ready else "unready", "store": "reachable",
                   "revision": revision, "sources": sources, "problems": problems}


def readyz_handler(config: Config, store: Store) -> Handler:
    async def readyz(request: Request) -> Response:
        ready, body = readiness(config, store)
        return JSONResponse(body, status_code=200 if ready else 503)
    return readyz


def token_guard(config: Config, handler: Handler) -> Handler:
    """`handler` for a Bearer admin or metrics token; 401 without; 404 when none is set."""
    tokens = [t.get_secret_value().encode() for t in (config.web.admin_token, config.web.metrics_token)
              if t is not None and t.get_secret_value()]

    async def guarded(request: Request) -> Response:
        if not tokens:
            return JSONResponse({"error": "not found"}, status_code=404)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        # compare with each in constant time, and always with all of them
        if not any([hmac.compare_digest(given, t) for t in tokens]):  # noqa: C419
            return JSONResponse({"error": "token required"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)
    return guarded
