"""A no-change Moodle resync against the full sync it follows (wall and CPU, this process).

The sandbox Moodle answers from another process. Each round: a fresh store, a first pull
(everyone read), then, as if `--interval` seconds had passed (the rolling re-check reads its
share of the learners who are not complete, as it would on that schedule), a pull with
nothing changed on the platform; then `floor`: a bare requests + json client making the
resync's platform calls (site info, contents, sessions, grade report, roster pages, and as
many per-learner reads as the re-check made), keeping nothing. Medians of `--repeat` rounds;
`ratio_wall` (resync / full sync, target ≤ 0.02) and `resync_vs_floor` are the figures.
`--run` times whole runs (pull, evaluate, issue; no email server) instead of the pull step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_config import write_config  # noqa: E402
from platform_proc import RemoteSandbox  # noqa: E402
from pull_cpu import minimal_pull  # noqa: E402


def floor(sb: RemoteSandbox, reads: int) -> float:
    """The resync's calls by a bare client: the course-wide ones, then `reads` learners."""
    wall = time.perf_counter()
    minimal_pull(sb.base_url, sb.token, sb.course_ids, 4, 1000, read_only=reads, languages=False)
    return time.perf_counter() - wall


def one_round(sb: RemoteSandbox, interval: int, whole_run: bool) -> dict[str, float]:
    from bridge.store import Store
    from connectors.registry import load as load_config
    from jobs.pull import pull_sources
    from jobs.run import run_sync

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(Path(tmp), sb))
        store = Store(config.bridge.db_url)

        def sync() -> tuple[float, float, int]:
            wall, cpu = time.perf_counter(), time.process_time()
            if whole_run:
                report = run_sync(config, store, steps=("pull", "evaluate", "issue"), trigger="bench")
                requests = sum(s.requests for s in report.sources.values())
            else:
                run_id = store.runs.begin(["sandbox"], "bench")
                requests = pull_sources(config, store, run_id)["sandbox"].requests
            return time.perf_counter() - wall, time.process_time() - cpu, requests

        full = sync()
        earlier = str(int(time.time()) - interval)  # the previous run, `interval` ago
        for course in sb.course_ids:
            store.facts.set_watermark("sandbox", course, "pulled", earlier)
        again = sync()
        store.engine.dispose()
    fixed = 5 + -(-len(sb.course_ids) * sb.learners // 1000)  # course-wide calls and pages
    bare = floor(sb, max(0, (again[2] - fixed) // 2))
    return {"floor_wall": bare, "full_wall": full[0], "full_cpu": full[1], "full_requests": full[2],
            "resync_wall": again[0], "resync_cpu": again[1], "resync_requests": again[2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--interval", type=int, default=900, help="seconds between the two syncs")
    ap.add_argument("--run", action="store_true", help="whole runs rather than the pull step")
    args = ap.parse_args()
    with RemoteSandbox(learners=args.learners) as sb:
        rounds = [one_round(sb, args.interval, args.run) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(json.dumps({
        "bench": "resync", "learners": args.learners, "repeat": args.repeat,
        "interval_s": args.interval, "scope": "run" if args.run else "pull",
        **{k: round(v, 3) for k, v in med.items()},
        "ratio_wall": round(med["resync_wall"] / med["full_wall"], 4),
        "ratio_cpu": round(med["resync_cpu"] / med["full_cpu"], 4),
        "ratio_requests": round(med["resync_requests"] / med["full_requests"], 4),
        "resync_vs_floor": round(med["resync_wall"] / med["floor_wall"], 3),
    }))


if __name__ == "__main__":
    main()
