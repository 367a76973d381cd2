"""Progress of long steps on a terminal, with rich's progress bars; nothing when stderr is not a
terminal (a service, a pipe, a test), so logs and outputs stay clean.

A step with a total (issuing, sending) shows a bar; one without (a source's requests: roster
pages, per-learner reads) shows a spinner and the count so far.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from bridge.progress import NO_PROGRESS, Progress

__all__ = ["terminal_progress"]


class _Task:
    def __init__(self, bars: _Bars, task_id: Any) -> None:
        self.bars, self.task_id = bars, task_id

    def advance(self, amount: int = 1) -> None:
        self.bars.progress.advance(self.task_id, amount)

    def close(self) -> None:
        self.bars.progress.stop_task(self.task_id)

    def __enter__(self) -> _Task:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Bars:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as Rich,
        )

        self.progress = Rich(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(),
                             console=Console(stderr=True), transient=False)
        self.latest: _Task | None = None

    def task(self, label: str, total: int | None = None) -> _Task:
        self.latest = _Task(self, self.progress.add_task(label, total=total))
        return self.latest

    def advance(self, amount: int = 1) -> None:
        if self.latest is not None:
            self.latest.advance(amount)

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


class _Nothing:
    def __enter__(self) -> Progress:
        return NO_PROGRESS

    def __exit__(self, *exc: object) -> None:
        pass


def terminal_progress(enabled: bool = True) -> Any:
    """A context manager giving a Progress: bars on a terminal's stderr, else silence."""
    if enabled and sys.stderr.isatty():
        return _Bars()
    return _Nothing()
