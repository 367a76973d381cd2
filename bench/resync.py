"""A no-change Moodle resync against the full sync it follows (wall and CPU, this process).

The sandbox Moodle answers from another process. Each round: a fresh store, a first pull
(everyone read), then, as if `--interval` seconds had passed (the rolling re-check reads its
share of the learners who are not complete, as it would on that schedule), a pull with
nothing changed on the platform; then `floor`: a bare requests + json client making the
resync's platform calls (site info, contents, sessions, grade report, roster pages, and as
many per-learner reads as the re-check made), keeping nothing. Medians of `--repeat` rounds;
`ratio_wall` (resync / full sync, target ≤ 0.02) and `resync_vs_floor` are the figures.
`--run` times whole runs (pull, evaluate, issue; no email server) instead of the pull step.

`--latency-ms`: how long the sandbox waits before each answer; 13.5 ms by default (a real
Moodle's per-learner call, as bench/scale.py), the honest "platform" figure, where the full
sync is bound by the platform's round trips. `--latency-ms 0` answers at once: the full sync
is then CPU-bound, and the ratio is the CPU figure. `--profile FILE` writes a cProfile of the
last round's resync (pstats format).
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


def one_round(sb: RemoteSandbox, interval: int, whole_run: bool, resyncs: int = 1,
              profile: str | None = None) -> list[dict[str, float]]:
    """A fresh store, a full sync, then `resyncs` no-change resyncs (each dated `interval`
    after the previous run, each followed by the floor of the calls it made)."""
    from bridge.store import Store
    from connectors.registry import load as load_config
    from jobs.pull import pull_sources
    from jobs.run import run_sync

    out = []
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
        for n in range(resyncs):
            earlier = str(int(time.time()) - interval)  # the previous run, `interval` ago
            for course in sb.course_ids:
                store.facts.set_watermark("sandbox", course, "pulled", earlier)
            if profile and n == resyncs - 1:
                import cProfile

                with cProfile.Profile() as prof:
                    again = sync()
                prof.dump_stats(profile)
            else:
                again = sync()
            fixed = 5 + -(-len(sb.course_ids) * sb.learners // 1000)  # course-wide calls and pages
            bare = floor(sb, max(0, (again[2] - fixed) // 2))
            out.append({"floor_wall": bare, "full_wall": full[0], "full_cpu": full[1],
                        "full_requests": full[2], "resync_wall": again[0], "resync_cpu": again[1],
                        "resync_requests": again[2]})
        store.engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--interval", type=int, default=900, help="seconds between the two syncs")
    ap.add_argument("--run", action="store_true", help="whole runs rather than the pull step")
    ap.add_argument("--latency-ms", type=float, default=13.5,
                    help="the sandbox's wait before each answer (0: at once, the CPU figure)")
    ap.add_argument("--resyncs", type=int, default=1,
                    help="no-change resyncs after each round's full sync (a 40k-learner full "
                         "sync at 13.5 ms a call takes ~10 minutes)")
    ap.add_argument("--profile", help="write a cProfile of the last round's resync here")
    args = ap.parse_args()
    with RemoteSandbox(learners=args.learners, latency=args.latency_ms / 1000) as sb:
        rounds = [r for n in range(args.repeat)
                  for r in one_round(sb, args.interval, args.run, args.resyncs,
                                     args.profile if n == args.repeat - 1 else None)]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(json.dumps({
        "bench": "resync", "learners": args.learners, "repeat": args.repeat,
        "resyncs": args.resyncs,
        "interval_s": args.interval, "latency_ms": args.latency_ms,
        "scope": "run" if args.run else "pull",
        **{k: round(v, 3) for k, v in med.items()},
        "ratio_wall": round(med["resync_wall"] / med["full_wall"], 4),
        "ratio_cpu": round(med["resync_cpu"] / med["full_cpu"], 4),
        "ratio_requests": round(med["resync_requests"] / med["full_requests"], 4),
        "resync_vs_floor": round(med["resync_wall"] / med["floor_wall"], 3),
        "range_ratio_wall": [round(min(r["resync_wall"] / r["full_wall"] for r in rounds), 4),
                             round(max(r["resync_wall"] / r["full_wall"] for r in rounds), 4)],
        "range_ratio_cpu": [round(min(r["resync_cpu"] / r["full_cpu"] for r in rounds), 4),
                            round(max(r["resync_cpu"] / r["full_cpu"] for r in rounds), 4)],
    }))


if __name__ == "__main__":
    main()
