"""Seeded, transient fault injection: 500, 429, slow, truncated JSON, wrong type,
duplicated pages, reordered rows. Pushes are only ever faulted BEFORE being applied."""

from __future__ import annotations

import random
import threading
from typing import Any

# Faults that break a response (a retry of the same request is served clean).
BREAKING = ("500", "429", "truncate", "wrongtype")
# Faults a correct, idempotent client absorbs without retrying.
DATA = ("duplicate", "reorder")
ALL = (*BREAKING, "slow", *DATA)
# A push (completion override, attendance status, completion-batch) is faulted only
# with these, and only before it is applied: a failed push never changed the world.
PUSH_SAFE = ("500", "429", "slow")

WRONG_TYPE_KEYS = {"id": "abc", "completed": "maybe", "state": "maybe", "userid": "abc",
                   "percent": "n/a", "passed": "maybe", "lastcourseaccess": "yesterday",
                   "cmid": "abc", "timecompleted": "never"}


class Faults:
    """Decides, per request, whether and how to misbehave (seeded, thread-safe).

    A request that was broken (500, 429, truncated, wrong type) is remembered by
    signature and served clean the next time it arrives, so any client that retries
    at least once converges to the fault-free data. "duplicate" makes a cursor page's
    `next` replay that page once, or repeats rows of an unpaged list; limitfrom/limitnumber
    pages are only ever reordered (a longer page would shift a client's offsets).
    """

    def __init__(self, rate: float = 0.0, seed: int = 7, retry_after: int = 1,
                 slow_delay: float = 0.05) -> None:
        self.rate = rate
        self.retry_after = retry_after
        self.slow_delay = slow_delay
        self._rng = random.Random(seed * 7919 + 1)
        self._owed: set[str] = set()
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def decide(self, signature: str, *, push: bool = False) -> str | None:
        with self._lock:
            if signature in self._owed:
                self._owed.discard(signature)
                return None
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(PUSH_SAFE if push else ALL)
            if kind in BREAKING:
                self._owed.add(signature)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def shuffle(self, rows: list[Any]) -> list[Any]:
        with self._lock:
            rows = list(rows)
            self._rng.shuffle(rows)
            return rows


def corrupt(payload: Any) -> bool:
    """Give the first well-known field found a value of the wrong type, in place."""
    stack = [payload]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key, bad in WRONG_TYPE_KEYS.items():
                if key in node and not isinstance(node[key], (dict, list)):
                    node[key] = bad
                    return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def truncate(body: bytes) -> bytes:
    return body[: max(1, len(body) // 2)]
