"""Hosted assertion JSON requests per second, per worker process, beside a bare Starlette app
on the same server reading the same award from the same database. Prints one JSON object.

The bare app is the least a server does for this URL: one async route, one SQLAlchemy select of
the award row by its id, the row's fields as JSON. Both run under uvicorn (one worker, the
same options) in a process of their own; the load comes from `bench/_load.py`'s keep-alive
HTTP/1.1 client (asyncio, raw sockets) in this process, the same for both, over loopback.
`--workers 2` also measures the app and the bare app with two worker processes each (on this
2-core machine uvicorn's multi-process mode serves both at a fraction of one process's rate,
its workers mostly idle: the figure to read is the ratio at the same worker count).

    python bench/web.py [--awards 500] [--seconds 5] [--connections 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, make_awards, median, setup
from _load import load

HERE = Path(__file__).resolve().parent

BARE = """
import sys
from sqlalchemy import create_engine, select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
sys.path.insert(0, {root!r})
from bridge.store.schema import awards

engine = create_engine({db!r})

async def assertion(request):
    with engine.connect() as conn:
        r = conn.execute(select(awards).where(awards.c.id == request.path_params["award_id"])).first()
    if r is None:
        return JSONResponse({{"error": "not found"}}, status_code=404)
    return JSONResponse({{"id": r.id, "badge": r.badge_id, "issuedOn": r.issued_at.isoformat(),
                         "salt": r.salt, "evidence": r.provenance}})

def app():
    return Starlette(routes=[Route("/ob2/assertions/{{award_id}}", assertion)])
"""


def wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


READY = b"Application startup complete"


def wait_ready(log_file: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Until the servers' log says `count` applications have started (500 looks, 0.1 s apart)."""
    for _ in range(500):
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {process.returncode}")
        if log_file.read_bytes().count(READY) >= count:
            return
        time.sleep(0.1)
    raise SystemExit(f"the server's {count} workers did not all start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--awards", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    from bridge.web.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, store = setup(folder)
        ids = [a.id for a in make_awards(store, args.awards, email=False)]
        store.close()
        (folder / "bare.py").write_text(BARE.format(root=str(HERE.parent), db=config.bridge.db_url))
        env = dict(os.environ, BADGE_BRIDGE_CONFIG=str(config.file),
                   PYTHONPATH=os.pathsep.join([str(folder), str(HERE.parent)]))
        rnd = random.Random(7)
        paths = [f"/ob2/assertions/{rnd.choice(ids)}" for _ in range(4096)]
        apps = {"bare": ("bare:app", 1), "app": ("cli.web:app", 1)}
        if args.workers > 1:
            apps["bare_workers"] = ("bare:app", args.workers)
            apps["app_workers"] = ("cli.web:app", args.workers)
        rates: dict[str, list[float]] = {name: [] for name in apps}
        errors = 0
        log_file = folder / "servers.log"
        log = log_file.open("wb")
        for _ in range(args.repeats):
            for name, (factory, workers) in apps.items():
                port = free_port()
                started = log_file.read_bytes().count(READY)
                server = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port),
                     "--workers", str(workers), "--log-level", "info", "--no-access-log"],
                    env=env, cwd=str(folder), stderr=log)
                try:
                    wait_port(port, server)
                    # every worker has booted (the port opens before they have)
                    wait_ready(log_file, started + workers, server)
                    asyncio.run(load("127.0.0.1", port, paths[:64], 1.0, 4))  # warm
                    done, failed = asyncio.run(load("127.0.0.1", port, paths, args.seconds,
                                                    args.connections))
                    rates[name].append(done / args.seconds)
                    errors += failed
                finally:
                    server.terminate()
                    server.wait(timeout=30)
        log.close()
        if errors:
            sys.stderr.write((folder / "servers.log").read_text()[-3000:])
    rate = {k: median(v) for k, v in rates.items()}
    doc = {"benchmark": "web", "awards": args.awards, "seconds": args.seconds,
           "connections": args.connections, "repeats": args.repeats,
           "baseline_bare_starlette_requests_per_second": round(rate["bare"]),
           "app_requests_per_second_one_worker": round(rate["app"]),
           "app_vs_baseline_per_worker": round(rate["app"] / rate["bare"], 2),
           "non_2xx_or_errors": errors}
    if "app_workers" in rate:
        doc[f"baseline_requests_per_second_{args.workers}_workers"] = round(rate["bare_workers"])
        doc[f"app_requests_per_second_{args.workers}_workers"] = round(rate["app_workers"])
        doc[f"app_vs_baseline_{args.workers}_workers"] = round(rate["app_workers"] / rate["bare_workers"], 2)
    emit(doc)


if __name__ == "__main__":
    main()
