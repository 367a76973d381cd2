"""SandboxPlatform: a loopback HTTP/1.1 server (stdlib, keep-alive, daemon threads)
speaking the Moodle and Open edX dialects over one seeded World, with faults."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import edx_blocks, edx_completion, edx_http, fun, fun_reports, moodle, openedx
from .faults import Faults, corrupt, truncate
from .seed import demo_world, scale_world
from .wire import Request, Response, parse_form
from .world import World

DIALECTS = ("moodle", "openedx", "fun")


class SandboxPlatform:
    """A simulated learning platform on loopback. See the package docstring."""

    def __init__(self, dialect: str = "moodle", *, learners: int = 40, courses: int = 1,
                 seed: int = 7, fault_rate: float = 0.0, port: int = 0,
                 host: str = "127.0.0.1", profile: str = "demo",
                 missing_functions: set[str] | None = None,
                 missing_capabilities: set[str] | None = None, retry_after: int = 1,
                 slow_delay: float = 0.05, token_ttl: int = 3600,
                 now: int | None = None, global_staff: bool = True, restricted: bool = False,
                 completion_tracking: bool = True, aggregator: bool = True,
                 auto_certificates: bool = True, certificate_delay: int = 1800,
                 throttle: bool = True, clock: Callable[[], float] = time.monotonic,
                 latency: float = 0.0) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
        if profile not in ("demo", "scale"):
            raise ValueError(f"profile must be 'demo' or 'scale', not {profile!r}")
        self.dialect, self.profile, self.seed = dialect, profile, seed
        self.host, self.port = host, port
        org = "FUN" if dialect == "fun" else "SandboxX"
        if profile == "demo":
            self.world: World = demo_world(seed, learners, now, org)
        else:
            self.world = scale_world(seed, learners, courses, now, org)
        if dialect == "fun":  # Dogwood-era FUN courses carry old-style keys: ORG/NUMBER/RUN
            for c in self.world.courses:
                c.key = c.key[len("course-v1:"):].replace("+", "/")
        self.token = _derive(seed, "wstoken")
        self.client_id = f"sandbox-{dialect}-client"
        self.client_secret = _derive(seed, "client-secret")
        self.api_key = _derive(seed, "edx-api-key")
        self.jwt_secret = _derive(seed, "jwt-signing-key", 64)
        self.password = "Sandbox-" + _derive(seed, "password", 8)  # for /login/token.php
        self.token_ttl = token_ttl
        # Open edX: the service user's staff flag, a restricted DOT application, the waffle
        # switch completion.enable_completion_tracking, the completion-aggregator plugin,
        # certificate auto-generation and its delay (world seconds), the enrollment throttle.
        self.global_staff, self.restricted = global_staff, restricted
        self.completion_tracking, self.aggregator = completion_tracking, aggregator
        self.auto_certificates, self.certificate_delay = auto_certificates, certificate_delay
        self.throttle = edx_http.Throttle({"user": 40, "staff": 120}, 60.0, clock) \
            if throttle else None
        self.aggregates: dict[tuple[int, int], tuple[float, float]] = {}
        self.missing_functions: set[str] = set(missing_functions or ())
        self.missing_capabilities: set[str] = set(missing_capabilities or ())
        self.faults = Faults(fault_rate, seed, retry_after, slow_delay)
        # Seconds every answer takes besides its work: a real platform's round trip (a Moodle
        # 4.5 answers a per-learner completion call in ~13.5 ms, docs/performance.md).
        self.latency = latency
        self.pushes: list[dict[str, Any]] = []
        self.request_count = 0
        self.requests_by_function: Counter[str] = Counter()
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if dialect == "openedx":
            edx_completion.run_aggregator_service(self)

    # --- public API ----------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def course_ids(self) -> list[str]:
        if self.dialect == "moodle":
            return [str(c.id) for c in self.world.courses]
        return [c.key for c in self.world.courses]

    def set_fault_rate(self, rate: float) -> None:
        self.faults.rate = rate

    def start(self) -> SandboxPlatform:
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="sandbox",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mutate(self, n: int, seed: int | None = None) -> list[int]:
        """Advance n learners' progress (thread-safe); returns the changed user ids."""
        with self.lock:
            return self.world.mutate(random.Random(self.seed if seed is None else seed), n)

    def run_aggregator_service(self) -> None:
        """Run the completion-aggregator's cron: its all-learners view catches up."""
        edx_completion.run_aggregator_service(self)

    def view_block(self, username: str, usage: str) -> bool:
        """A learner opens the unit showing `usage` in the LMS (see edx_blocks.view)."""
        with self.lock:
            u = self.world.by_username[username]
            course = next(c for c in self.world.courses if usage.startswith(
                "block-v1:" + c.key[len("course-v1:"):] + "+"))
            return edx_blocks.view(self, course, u, usage)

    def write_reports(self, folder: Path) -> list[Path]:
        """FUN: the instructor dashboard's grade and profile reports of every course, as CSV."""
        with self.lock:
            return fun_reports.write_reports(self, Path(folder))

    def record_push(self, push: dict[str, Any]) -> None:
        with self.lock:
            self.pushes.append(push)

    # --- dispatch --------------------------------------------------------
    def classify(self, req: Request) -> tuple[str, bool]:
        """(endpoint name for the counters, is it a push?) without touching the world."""
        if req.path == moodle.ENDPOINT:
            fn = dict(req.form).get("wsfunction") or req.query.get("wsfunction") or "(none)"
            return fn, fn in moodle.PUSHES
        if req.path == moodle.LOGIN:
            return "login_token", False
        return fun.classify(req) if self.dialect == "fun" else openedx.classify(req)

    def dispatch(self, req: Request) -> Response:
        if req.path == moodle.ENDPOINT:
            return moodle.handle(self, req)
        if req.path == moodle.LOGIN:
            return moodle.login(self, req)
        return fun.handle(self, req) if self.dialect == "fun" else openedx.handle(self, req)


def _derive(seed: int, label: str, size: int = 32) -> str:
    """A stable, seed-specific secret: independent per label."""
    return hashlib.sha256(f"badge-bridge-sandbox/{seed}/{label}".encode()).hexdigest()[:size]


def _rows(payload: Any, key: str | None) -> list[Any] | None:
    if key is None:
        return None
    rows = payload if key == "" else (payload.get(key) if isinstance(payload, dict) else None)
    return rows if isinstance(rows, list) else None


def _apply_data_fault(p: SandboxPlatform, resp: Response, kind: str) -> None:
    rows = _rows(resp.payload, resp.rows_key)
    if rows is None or not rows:
        return
    if kind == "duplicate" and resp.dup_next is not None:
        resp.payload["next"] = resp.dup_next
        return
    if kind == "duplicate" and not resp.offset_paged:
        rows.extend(json.loads(json.dumps(rows[: min(2, len(rows))])))
    shuffled = p.faults.shuffle(rows)
    rows[:] = shuffled


def _encode(resp: Response) -> bytes:
    if resp.raw is not None:
        return resp.raw
    return json.dumps(resp.payload).encode()


def _fault_response(p: SandboxPlatform, kind: str) -> tuple[int, dict[str, str], bytes]:
    if kind == "500":
        return 500, {"Content-Type": "text/html; charset=utf-8"}, (
            b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
            b"<body><h1>Internal Server Error</h1></body></html>")
    retry = str(p.faults.retry_after)
    body = json.dumps({"detail": f"Request was throttled. Expected available in {retry} "
                       "seconds."}).encode()
    return 429, {"Content-Type": "application/json", "Retry-After": retry}, body


def _make_handler(p: SandboxPlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "badge-bridge-sandbox/1.0"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive
        wbufsize = 1 << 16  # headers and body leave in one write

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            form = parse_form(body.decode("utf-8", "replace")) if (
                "x-www-form-urlencoded" in ctype or (body and not ctype)) else []
            req = Request(self.command, parts.path, dict(parse_qsl(parts.query, True)), form,
                          {k.lower(): v for k, v in self.headers.items()}, body)
            endpoint, push = p.classify(req)
            with p.lock:
                p.request_count += 1
                p.requests_by_function[endpoint] += 1
            # Decided BEFORE dispatch: a faulted push (500/429 only) was never applied.
            kind = p.faults.decide(f"{self.command} {self.path} {body!r}", push=push)
            if p.latency:
                time.sleep(p.latency)
            if kind == "slow":
                time.sleep(p.faults.slow_delay)
            if kind in ("500", "429"):
                status, headers, data = _fault_response(p, kind)
            else:
                try:
                    resp = p.dispatch(req)
                except Exception as exc:  # a sandbox bug: say so rather than hang up
                    resp = Response(500, {"detail": f"sandbox error: {exc!r}"})
                status = resp.status
                headers = {"Content-Type": resp.content_type, **resp.headers}
                if resp.status >= 400 or _is_moodle_error(resp):
                    kind = None  # errors are served as they are
                if kind in ("duplicate", "reorder"):
                    _apply_data_fault(p, resp, kind)
                if kind == "wrongtype" and resp.raw is None:
                    corrupt(resp.payload)
                data = _encode(resp)
                if kind == "truncate":
                    data = truncate(data)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _is_moodle_error(resp: Response) -> bool:
    return isinstance(resp.payload, dict) and "exception" in resp.payload \
        and "errorcode" in resp.payload
