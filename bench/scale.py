"""A sandbox of N learners over M courses, answering with a real platform's latency, synced by
one process and by 1, 2, 4 `badge-bridge worker`s (Celery, one task per source and course)
on PostgreSQL: wall time of the pull, requests, peak memory, speed-up.

The sandbox runs in its own process (`--latency-ms`, ≈ 13.5 ms per call as measured on a
real Moodle 4.5); Redis is started on a free loopback port unless `--broker` is given; each
mode syncs into a fresh PostgreSQL database (`--pg`). The first sync reads every learner (2
calls each, `parallel` at a time per process): latency-bound, so workers on 2 cores still
add speed. Prints one JSON object. Sizes are parameters: `--learners 300000 --courses 100`
is the full figure; `make bench` runs a small one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_config import write_config  # noqa: E402
from platform_proc import RemoteSandbox  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", folder], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(pg: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{pg.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


def drop_database(pg: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tree(pid: int) -> list[int]:
    """A process and its live descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def peak_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of one process, MB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one live process (its threads included)."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def tree_peak_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of a process and its descendants, the largest of them."""
    return max((peak_mb(p) for p in tree(pid)), default=0.0)


def single(config: Path) -> dict[str, Any]:
    """The pull in one process of its own (the child measures its own peak)."""
    out = subprocess.run([sys.executable, __file__, "--child", str(config)], check=True,
                         stdout=subprocess.PIPE, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def child(config_path: str) -> None:
    import resource

    from bridge.store import Store
    from connectors.registry import load as load_config
    from jobs.pull import pull_sources

    config = load_config(Path(config_path))
    store = Store(config.bridge.db_url)
    run_id = store.runs.begin(["sandbox"], "bench")
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    stats = pull_sources(config, store, run_id)["sandbox"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": time.perf_counter() - started, "requests": stats.requests,
                      "errors": stats.errors, "peak_mb": usage.ru_maxrss / 1024,
                      "cpu_s": usage.ru_utime + usage.ru_stime - cpu_before}))


def with_workers(config: Path, courses: list[str], workers: int, broker: str) -> dict[str, Any]:
    from jobs.tasks import configure, sync_task

    app = configure(broker)
    procs = [subprocess.Popen([str(BIN / "badge-bridge"), "worker", "--broker", broker,
                               "--concurrency", "1", "--hostname", f"bench{n}@%h"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
             for n in range(workers)]
    try:
        for _ in range(120):  # each ping waits 0.5 s for the answers
            if len(app.control.ping(timeout=0.5) or []) >= workers:
                break
        cpu_before = sum(cpu_s(q) for p in procs for q in tree(p.pid))
        started = time.perf_counter()
        results = [sync_task.apply_async((str(config), ["sandbox"], ["pull"], [c])) for c in courses]
        reports = [r.get(timeout=4 * 3600) for r in results]
        wall = time.perf_counter() - started
        # per worker: its largest process (the pool's child does the work), and their CPU
        peaks = [tree_peak_mb(p.pid) for p in procs]
        cpu = sum(cpu_s(q) for p in procs for q in tree(p.pid)) - cpu_before
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(30)
    return {"wall_s": wall, "peak_mb": max(peaks), "peak_mb_per_worker": peaks, "cpu_s": cpu,
            "requests": sum(s["requests"] for r in reports for s in r["sources"].values()),
            "errors": sum(s["errors"] for r in reports for s in r["sources"].values())}


def absent(pg: str, broker: str | None) -> str | None:
    """Why the bench cannot run here (no PostgreSQL, no Redis to start), or None."""
    try:
        import psycopg

        psycopg.connect(f"{pg}/postgres", connect_timeout=3).close()
    except Exception as exc:  # any failure to connect is the same answer: not here
        return f"PostgreSQL at {pg}: {type(exc).__name__}"
    if broker is None and shutil.which("redis-server") is None:
        return "redis-server not installed (or pass --broker)"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=300_000)
    ap.add_argument("--courses", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=13.5)
    ap.add_argument("--workers", default="0,1,2,4",
                    help="the modes, in order: 0 is one process, k > 0 is k workers")
    ap.add_argument("--parallel", type=int, default=4, help="per-learner reads at once, per process")
    ap.add_argument("--broker", default=None, help="default: a Redis started on loopback")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--out", help="also write the JSON to this file, after each mode")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    out: dict[str, Any] = {"bench": "scale", "learners": args.learners, "courses": args.courses,
                           "latency_ms": args.latency_ms, "parallel": args.parallel}
    missing = absent(args.pg, args.broker)
    if missing:  # said in the JSON, so that `make bench` goes on with the other figures
        print(json.dumps({**out, "skipped": missing}))
        return
    with RemoteSandbox(learners=args.learners, courses=args.courses,
                       latency=args.latency_ms / 1000) as sb, \
            (contextlib.nullcontext(args.broker) if args.broker else redis_server()) as broker, \
            tempfile.TemporaryDirectory() as tmp:
        out["sandbox_build_s"] = round(sb.info.get("build_s", 0.0), 1)
        modes = [("single" if k == 0 else f"workers_{k}", k)
                 for k in map(int, args.workers.split(","))]
        for name, k in modes:
            db = f"bb_bench_scale_{os.getpid()}_{name}"
            url = fresh_database(args.pg, db)
            folder = Path(tmp) / name
            config = write_config(folder, sb, parallel=args.parallel, database_url=url)
            from bridge.store import Store
            Store(url).engine.dispose()  # the schema, before the clock starts
            before, sb_cpu = sb.request_count, cpu_s(sb.pid)
            result = single(config) if k == 0 else with_workers(config, sb.course_ids, k, broker)
            result["platform_requests"] = sb.request_count - before
            # the platform's own CPU (not part of badge-bridge's), and its memory so far
            result["platform_cpu_s"] = cpu_s(sb.pid) - sb_cpu
            result["platform_peak_mb"] = peak_mb(sb.pid)
            out[name] = {key: round(v, 2) if isinstance(v, float) else v for key, v in result.items()}
            drop_database(args.pg, db)
            if args.out:  # each mode as it ends: a long run keeps what it measured
                Path(args.out).write_text(json.dumps(out) + "\n", encoding="utf-8")
    ran = [name for name, _ in modes]
    base = out[ran[0]]["wall_s"]
    out["speedup_vs"] = ran[0]
    out["speedup"] = {name: round(base / out[name]["wall_s"], 2) for name in ran
                      if name.startswith("workers_")}
    if args.out:
        Path(args.out).write_text(json.dumps(out) + "\n", encoding="utf-8")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
