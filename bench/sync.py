"""Benchmark of one sync run against the sandbox platform seeded with N learners.

Prints one JSON object: seconds per step, HTTP requests, awards, emails, peak RSS and
`awards_digest` (sha256 of the sorted `email|badge-id` lines) to compare outcomes of two runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.config import load_config  # noqa: E402
from bridge.delivery.catcher import MailCatcher  # noqa: E402
from bridge.demo import write_demo_config  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.sandbox import SandboxPlatform  # noqa: E402
from jobs.run import run_sync  # noqa: E402


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--learners", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, \
            SandboxPlatform("moodle", learners=args.learners, seed=args.seed, profile="scale") as sandbox:
        catcher = MailCatcher().start()
        try:
            path = Path(tmp) / "bench.toml"
            write_demo_config(path, data_dir=Path(tmp) / "state", port=8000,
                              sandbox_url=sandbox.base_url, token=sandbox.token, smtp_port=catcher.port)
            if args.database:
                path.write_text(path.read_text().replace(
                    "[issuer]", f'database_url = "{args.database}"\n\n[issuer]'))
            config = load_config(path)
            store = Store(config.bridge.db_url)
            started = time.perf_counter()
            report = run_sync(config, store, trigger="bench")
            wall = time.perf_counter() - started
            awards = store.list_awards()
        finally:
            catcher.stop()
        print(json.dumps({
            "learners": args.learners, "seed": args.seed, "database": store.engine.dialect.name,
            "wall_seconds": round(wall, 3), "seconds": report.seconds,
            "http_requests": sum(s.get("requests") or 0 for s in report.sources.values()),
            "platform_requests": sandbox.request_count,
            "new_facts": sum(s["new_facts"] for s in report.sources.values()),
            "awards": len(awards), "emails": len(catcher.raw),
            "errors": len(report.errors),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "awards_digest": digest([f"{a['learner_email']}|{a['badge_id']}" for a in awards]),
        }))


if __name__ == "__main__":
    main()
