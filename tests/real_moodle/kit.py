"""The Moodle kit (`../shared/moodle`, or $BB_MOODLE_KIT) seen from the tests and the recorder:
start the site, run PHP inside it, make crippled tokens and connectors."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector

__all__ = ["KIT", "BASE", "PORT", "kit", "start", "Site"]

REPO = Path(__file__).resolve().parents[2]
OPS = Path(__file__).resolve().parent / "moodle_ops.php"
BASE = os.environ.get("BB_MOODLE_BASE", "/tmp/badge-bridge-moodle")
PORT = os.environ.get("BB_MOODLE_PORT", "8181")


def kit_dir() -> Path:
    """$BB_MOODLE_KIT, else `shared/moodle` beside the checkout (or beside its parent, for a
    checkout kept one folder deeper, such as a git worktree)."""
    if os.environ.get("BB_MOODLE_KIT"):
        return Path(os.environ["BB_MOODLE_KIT"])
    candidates = [REPO.parent / "shared" / "moodle", REPO.parent.parent / "shared" / "moodle"]
    return next((c for c in candidates if (c / "start").exists()), candidates[0])


KIT = kit_dir()


def kit(command: str, *args: str) -> dict[str, Any]:
    """Runs a kit command and returns the JSON line it printed."""
    proc = subprocess.run([str(KIT / command), *args], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def start() -> dict[str, Any]:
    """The kit's site, started (or found running) on BASE and PORT: {"url", "token", "base", …}."""
    return kit("start", "--base", BASE, "--port", PORT)


class Site:
    """The real Moodle seen by a test: builds data, runs Moodle-side actions, makes connectors."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info, self.url, self.token, self.base = info, info["url"], info["token"], info["base"]

    def php(self, script: Path | str, *args: str) -> dict[str, Any]:
        return kit("php-run", "--base", self.base, str(script), *args)

    def course(self, name: str, learners: int = 20, complete: float = 0.4, online: float = 0.3,
               seed: int = 1) -> dict[str, Any]:
        """A hybrid course (examples/course.php): page + manual 'Meetup' as criteria, attendance.
        One build at a time on a site: builds share the learners they create (learnerNNNN)."""
        with open(Path(self.base) / ".badge-bridge-course.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self.php(KIT / "examples" / "course.php", f"--shortname={name}",
                            f"--learners={learners}", f"--complete={complete}",
                            f"--online-only={online}", f"--seed={seed}")

    def op(self, op: str, **args: object) -> dict[str, Any]:
        return self.php(OPS, f"--op={op}", *(f"--{k}={v}" for k, v in args.items()))

    def crippled(self, *drops: str) -> str:
        """A token of its own service, user and role, without the dropped capabilities/functions."""
        return kit("start", "--base", self.base, *drops)["token"]

    def connector(self, source: str = "campus", token: str | None = None,
                  clock: Callable[[], float] | None = None, **config: Any) -> MoodleConnector:
        cfg = MoodleConfig(url=self.url, token=token or self.token, retries=1, **config)
        return MoodleConnector(source, cfg, http=HttpClient(source, retries=1, sleep=lambda s: None),
                               **({"clock": clock} if clock else {}))
