"""Every benchmark at a size that fits about ten minutes on a 2-core machine; each prints one
JSON object (with its baseline measured in the same run, and the ratio). `make bench` runs this.

    python bench/all.py [--only emails,web]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, arguments): one line each; a benchmark is added here with the size it runs at.
BENCHES: list[tuple[str, list[str]]] = [
    ("rules.py", ["--learners", "20000"]),
    ("emails.py", ["--emails", "1000"]),
    ("ob3.py", ["--awards", "600"]),
    ("ob2.py", ["--awards", "2000"]),
    ("web.py", ["--seconds", "5", "--workers", "2"]),
    ("sync.py", []),
    ("pull_cpu.py", ["--learners", "1000"]),
    ("resync.py", ["--learners", "3000"]),
    ("memory.py", ["--sizes", "1000,10000"]),
    ("scale.py", ["--learners", "1200", "--courses", "6", "--workers", "0,1,2,4"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated names (emails,web…)")
    args = parser.parse_args()
    only = {n.strip().removesuffix(".py") for n in args.only.split(",") if n.strip()}
    failed = []
    for script, argv in BENCHES:
        if only and script.removesuffix(".py") not in only:
            continue
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(HERE / script), *argv], cwd=HERE)
        sys.stderr.write(f"# {script}: {time.monotonic() - started:.0f} s\n")
        if done.returncode:
            failed.append(script)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
