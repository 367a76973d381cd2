"""Peak memory of a sync, in its own process, against one course of N learners.

For each size the sandbox Moodle runs in a process of its own; the sync (pull, evaluate,
issue by default: `--steps`) runs in a child process of this one, whose peak resident memory
(ru_maxrss, from wait4) is the figure. `baseline_mb` is the same child stopping right after
its imports and store: the run's own share is the difference; `peak_after_mb`: the child's
peak so far when the pull, and when evaluate + issue, ended. Prints one JSON object;
targets: peak ≤ 250 MB at 100,000 learners, ≤ +20 % from the smallest size to the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_config import write_config  # noqa: E402
from platform_proc import RemoteSandbox  # noqa: E402

T = TypeVar("T")


def child(config_path: str, steps: str) -> None:
    """Run in the measured process: one sync, then its report on stdout."""
    from bridge.store import Store
    from connectors.registry import load as load_config
    from jobs.run import run_sync

    config = load_config(Path(config_path))
    store = Store(config.bridge.db_url)
    if steps == "none":
        print(json.dumps({}))
        return
    import resource

    import jobs.run

    after: dict[str, float] = {}  # the process's peak so far when each step ends

    def peak_after(step: str, fn: Callable[..., T]) -> Callable[..., T]:
        def wrapped(*args: object, **kw: object) -> T:
            out = fn(*args, **kw)
            after[step] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            return out
        return wrapped

    jobs.run.pull_sources = peak_after("pull", jobs.run.pull_sources)  # type: ignore[assignment]
    jobs.run.evaluate_and_issue = peak_after("evaluate_issue", jobs.run.evaluate_and_issue)  # type: ignore[assignment]
    started = time.perf_counter()
    report = run_sync(config, store, steps=tuple(steps.split(",")), trigger="bench")
    print(json.dumps({"wall_s": round(time.perf_counter() - started, 1), "peak_after_mb": after,
                      "requests": sum(s.requests for s in report.sources.values()),
                      "new_facts": sum(s.new_facts for s in report.sources.values()),
                      "awarded": report.awarded}))


def measured(config: Path, steps: str) -> tuple[float, dict[str, float]]:
    """(peak RSS in MB, the child's report) of one sync in a child process."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(config), "--steps", steps],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not all children's
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"the sync failed ({proc.returncode})")
    return round(usage.ru_maxrss / 1024, 1), json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000", help="learners, comma-separated")
    ap.add_argument("--steps", default="pull,evaluate,issue")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.steps)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    out: dict[str, object] = {"bench": "memory", "steps": args.steps, "sizes": sizes}
    peaks = []
    for n in sizes:
        with RemoteSandbox(learners=n) as sb, tempfile.TemporaryDirectory() as tmp:
            config = write_config(Path(tmp), sb)
            base, _ = measured(config, "none")
            peak, report = measured(config, args.steps)
        peaks.append(peak)
        out[str(n)] = {"peak_mb": peak, "baseline_mb": base, **report}
        print(json.dumps({n: out[str(n)]}), file=sys.stderr, flush=True)  # progress
    out["growth"] = round(peaks[-1] / peaks[0] - 1, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
