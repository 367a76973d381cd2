"""How long steps say how far they are: a protocol the jobs call, shown by the command line on a
terminal (rich's progress bars) and silent anywhere else (`NO_PROGRESS`).

A step opens a task with a label and, when it knows it, a total; it advances the task as it goes
and closes it at the end. The label names the step and the source, never a learner.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

__all__ = ["Progress", "Task", "NO_PROGRESS"]


class Task(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Task: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class Progress(Protocol):
    def task(self, label: str, total: int | None = None) -> Task: ...

    def advance(self, amount: int = 1) -> None:
        """Advance the latest task opened (for steps handed a Progress, not a Task)."""


class _Silent:
    def task(self, label: str, total: int | None = None) -> _Silent:
        return self

    def advance(self, amount: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


NO_PROGRESS: Progress = _Silent()
