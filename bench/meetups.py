"""Benchmark of the meetup check-in on one web worker (`badge-bridge serve`, one uvicorn process).

Prints one JSON object:
- `latency_ms`: one participant's whole check-in, sequentially (scan: the QR URL and its redirect
  to the form; the address; the confirmation), median, p95 and max over `--participants`;
- `checkins_per_second`: whole check-ins (the three steps, each participant a new device) that
  `--clients` client processes complete in `--seconds`, every one verified in the database after;
- `baseline_per_second`: the same clients fetching a static file (the pages' stylesheet), the
  bare baseline of that worker in this run, and `ratio` = check-ins per second / baseline.
The rate limits are raised for the run (the bench measures the worker, not the limiter).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.meetups.desk import Desk  # noqa: E402
from bridge.meetups.sessions import from_spec  # noqa: E402
from bridge.meetups.settings import SessionSpec  # noqa: E402
from bridge.store import Store  # noqa: E402
from bridge.web.server import free_port  # noqa: E402
from connectors.registry import load as load_config  # noqa: E402

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def check_in(qr_url: str, email: str) -> float:
    """One participant from the scan to "checked in"; seconds taken."""
    started = time.perf_counter()
    phone = requests.Session()
    page = phone.get(qr_url, timeout=30)
    for step in ("email", "confirm"):
        page = phone.post(page.url, data={"csrf": CSRF.search(page.text).group(1),  # type: ignore[union-attr]
                                          "email": email, "step": step}, timeout=30)
    if page.status_code != 201:
        raise RuntimeError(f"{email}: HTTP {page.status_code}")
    return time.perf_counter() - started


def _flood(args: tuple[str, str, int, float]) -> int:
    """One client process: check in new participants until the deadline."""
    qr_url, prefix, offset, deadline = args
    done = 0
    while time.time() < deadline:
        check_in(qr_url, f"{prefix}-{offset}-{done}@example.org")
        done += 1
    return done


def _baseline(args: tuple[str, float]) -> int:
    url, deadline = args
    http, done = requests.Session(), 0
    while time.time() < deadline:
        http.get(url, timeout=30).raise_for_status()
        done += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        path = Path(tmp) / "bridge.toml"
        path.write_text(f'''[bridge]
public_url = "http://127.0.0.1:{port}"
data_dir = "{tmp}/data"
[sources.rencontres]
kind = "meetups"
per_device = 100
device_limit = 1000000
ip_limit = 1000000
''', encoding="utf-8")
        config = load_config(path)
        store = Store(config.bridge.db_url)
        start = datetime.now(UTC) - timedelta(minutes=5)
        session = store.meetups.create(from_spec(SessionSpec(
            id="bench", title="Bench", place="Here", start=start, end=start + timedelta(hours=3),
            course="42"), "rencontres", config.bridge.zone, "cli"))
        desk = Desk(config, store)
        server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--config", str(path), "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    requests.get(f"{base}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            qr = desk.checkin_url(session, datetime.now(UTC))
            check_in(qr, "warm-up@example.org")
            latencies = sorted(check_in(desk.checkin_url(session, datetime.now(UTC)),
                                        f"seq-{i}@example.org") for i in range(args.participants))
            with ProcessPoolExecutor(args.clients) as pool:
                deadline = time.time() + args.seconds
                qr = desk.checkin_url(session, datetime.now(UTC))  # valid for 30-60 s: enough
                flooded = sum(pool.map(_flood, [(qr, "par", n, deadline) for n in range(args.clients)]))
                deadline = time.time() + args.seconds
                baseline = sum(pool.map(_baseline, [(f"{base}/static/meetups.css", deadline)] * args.clients))
        finally:
            server.terminate()
            server.wait(timeout=30)
        stored = len([c for c in store.meetups.checkins(session.id) if c.status == "present"])
        expected = 1 + args.participants + flooded
        result: dict[str, Any] = {
            "participants": args.participants, "clients": args.clients, "seconds": args.seconds,
            "latency_ms": {"median": round(statistics.median(latencies) * 1000, 1),
                           "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
                           "max": round(latencies[-1] * 1000, 1)},
            "checkins_per_second": round(flooded / args.seconds, 1),
            "baseline_per_second": round(baseline / args.seconds, 1),
            "ratio": round(flooded / baseline, 3) if baseline else None,
            "stored_checkins": stored, "all_stored": stored == expected,
            "database": "sqlite", "requests_per_checkin": 4,
        }
        store.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
