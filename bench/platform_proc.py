"""The sandbox platform in a process of its own, for the benches that measure the client side
alone (CPU, memory): `with RemoteSandbox(learners=10_000) as sb: sb.base_url, sb.token, ...`.

The child process answers on loopback and takes commands on its standard input, one JSON
line each: {"mutate": n} advances n learners, {"count": true} returns the requests served.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class RemoteSandbox:
    def __init__(self, dialect: str = "moodle", *, learners: int = 2000, courses: int = 1,
                 seed: int = 7, latency: float = 0.0) -> None:
        self.args = dict(dialect=dialect, learners=learners, courses=courses, seed=seed,
                         latency=latency)
        self.learners = learners
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> RemoteSandbox:
        self.proc = subprocess.Popen([sys.executable, __file__, json.dumps(self.args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def ask(self, command: dict[str, Any]) -> Any:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def mutate(self, n: int, seed: int | None = None) -> list[int]:
        return list(self.ask({"mutate": n, "seed": seed}))

    @property
    def request_count(self) -> int:
        return int(self.ask({"count": True}))

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["info"][name]
        except KeyError:
            raise AttributeError(name) from None


def _serve(args: dict[str, Any]) -> None:
    sys.path.insert(0, str(ROOT))
    from sandbox import SandboxPlatform

    started = time.perf_counter()
    with SandboxPlatform(args["dialect"], learners=args["learners"], courses=args["courses"],
                         seed=args["seed"], latency=args["latency"], profile="scale",
                         retry_after=0, slow_delay=0.01) as sb:
        gc.freeze()  # the world lives as long as the process: no collector pass walks it again
        c = sb.world.courses[0]
        print(json.dumps({"base_url": sb.base_url, "token": sb.token, "course_ids": sb.course_ids,
                          "page_size": 1000, "attendance_cmid": c.attendance_cmid, "pid": os.getpid(),
                          "build_s": time.perf_counter() - started}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if "mutate" in command:
                print(json.dumps(sb.mutate(command["mutate"], command.get("seed"))), flush=True)
            elif "count" in command:
                print(json.dumps(sb.request_count), flush=True)


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
