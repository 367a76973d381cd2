"""The code stays as the style guide asks: ruff-clean everywhere, mypy-clean on the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_ruff_finds_nothing():
    proc = run("ruff", "check", "bridge", "connectors", "badge_rules", "jobs", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing(tmp_path):
    proc = run("mypy", "--cache-dir", str(tmp_path / "mypy"), "bridge", "connectors", "badge_rules", "jobs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
