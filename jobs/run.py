"""One sync run as explicit steps, one way: pull → evaluate → issue → deliver.

Each step is idempotent, so a run stopped anywhere is finished by the next one. What the
platforms answer to the pushes of *deliver* is stored like pulled facts: when it changed
something, evaluate → issue → deliver go round again, so a course a push completed is
awarded and emailed in the same run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from badge_rules import RuleSet
from bridge import logs
from bridge.config import Config
from bridge.errors import EXIT_CODES, DeliveryError, SourceError
from bridge.meetups.mail import deliver_meetup_mails
from bridge.progress import NO_PROGRESS, Progress
from bridge.store import RunError, Store
from bridge.store.runs import HEARTBEAT
from connectors.base import Connector
from jobs.deliver import EmailStats, deliver_emails
from jobs.evaluate import evaluate_and_issue, publish_badges
from jobs.meetups import SessionStats, refresh_sessions
from jobs.pull import SourceStats, pull_sources
from jobs.push import PushStats, QueueStats, deliver_pushes, enqueue_attestations

__all__ = ["RunReport", "run_sync", "STEPS", "MAX_ROUNDS", "load_ruleset"]

log = logging.getLogger("badge_bridge.run")

STEPS = ("pull", "evaluate", "issue", "deliver")
# Read-back facts of a round's pushes are not presences, so a second round pushes nothing new:
# the bound only guards against a platform whose answers change at every read.
MAX_ROUNDS = 3


@dataclass
class RunReport:
    run_id: int
    status: str = "ok"
    sources: dict[str, SourceStats] = field(default_factory=dict)
    evaluated: int = 0
    awarded: int = 0
    emails: EmailStats = field(default_factory=EmailStats)
    queued: QueueStats = field(default_factory=QueueStats)
    pushes: PushStats = field(default_factory=PushStats)
    rounds: int = 0
    sessions: SessionStats = field(default_factory=SessionStats)
    errors: list[RunError] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    resumed: list[int] = field(default_factory=list)  # interrupted runs whose work this one took over

    def exit_code(self) -> int:
        """0 when everything was fetched, delivered and pushed; else the README's code: a
        source error (pull) or a push not made (refused, failed, or waiting for a retry) is 4,
        and wins when both happen; an email not delivered this run (the mail server down or
        refusing, the address refused, out of attempts) is 5, even when it will be retried."""
        if (any(e.step != "email" for e in self.errors) or self.pushes.failed
                or self.pushes.refused or self.pushes.retried):
            return EXIT_CODES[SourceError]
        if any(e.step == "email" for e in self.errors) or self.emails.undelivered:
            return EXIT_CODES[DeliveryError]
        return 0

    def failures(self) -> dict[str, dict[str, int]]:
        """What failed, by step then reason, with how many: the summary's grouping."""
        out: dict[str, dict[str, int]] = {}
        for e in self.errors:
            step = out.setdefault(e.step, {})
            reason = e.reason or e.code or "error"
            step[reason] = step.get(reason, 0) + e.count
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (kept with the run, printed by `sync --json`)."""
        return {"run_id": self.run_id, "status": self.status,
                "sources": {sid: s.as_dict() for sid, s in self.sources.items()},
                "evaluated": self.evaluated, "awarded": self.awarded,
                "emails": self.emails.as_dict(),
                "pushes": {**self.queued.as_dict(), **self.pushes.as_dict()},
                "meetup_sessions": self.sessions.as_dict(),
                "rounds": self.rounds, "errors": [e.as_dict() for e in self.errors],
                "failures": self.failures(), "resumed": self.resumed,
                "seconds": self.seconds}


def load_ruleset(config: Config) -> RuleSet:
    from badge_rules import load_rules

    return load_rules(config.bridge.rules_dir, config.source_courses())


@contextmanager
def _heartbeat(store: Store, run_id: int) -> Iterator[None]:
    """Say every HEARTBEAT seconds that run `run_id` is alive, until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT):
            try:
                store.runs.heartbeat(run_id)
            except Exception:  # a missed beat is retried at the next; never kill the run
                log.warning("heartbeat of run %s not written", run_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_sync(config: Config, store: Store, *, ruleset: RuleSet | None = None,
             sources: Sequence[str] | None = None, steps: Sequence[str] = STEPS,
             connectors: dict[str, Connector] | None = None, trigger: str = "cli",
             full: bool = False, progress: Progress = NO_PROGRESS,
             courses: Sequence[str] | None = None) -> RunReport:
    """Run the given steps once. Rules are loaded (and so validated) before anything is written.
    `full`: the pull reads every learner again, whatever their signals say. The runs found
    interrupted when this one begins are named in `report.resumed`: this run does their work
    (every step is idempotent) and takes over the outbox items they had leased. `courses`:
    only these courses of the sources that can pull a part of theirs (a worker's shard)."""
    ruleset = ruleset if ruleset is not None else load_ruleset(config)
    run_id = store.runs.begin(list(sources or config.sources), trigger)
    report = RunReport(run_id)
    begun = store.runs.get(run_id)
    report.resumed = list(begun.resumed) if begun else []
    clock = time.perf_counter()

    def lap(step: str) -> None:
        """Time spent in `step`, added up over the rounds."""
        nonlocal clock
        now = time.perf_counter()
        report.seconds[step] = round(report.seconds.get(step, 0.0) + now - clock, 3)
        clock = now

    with logs.context(run=run_id), _heartbeat(store, run_id):
        if report.resumed:
            log.warning("run %s takes over the work of interrupted run(s) %s", run_id,
                        ", ".join(map(str, report.resumed)))
        log.info("run started (%s)", trigger)
        try:
            if "pull" in steps:
                report.sources = pull_sources(config, store, run_id,
                                              list(sources) if sources else None, connectors, full,
                                              progress=progress, courses=courses)
                report.sessions = refresh_sessions(config, store, run_id=run_id, connectors=connectors)
                lap("pull")
            if "evaluate" in steps:
                publish_badges(store, ruleset)
            while report.rounds < MAX_ROUNDS:
                report.rounds += 1
                if "evaluate" in steps:
                    _evaluate(store, ruleset, config, run_id, report, issue_too="issue" in steps,
                              lap=lap, progress=progress)
                if "deliver" not in steps:
                    break
                report.queued += enqueue_attestations(config, store)
                with progress.task("email") as task:
                    report.emails += deliver_emails(config, store, run_id=run_id, progress=task)
                report.emails += EmailStats(*deliver_meetup_mails(config, store, run_id=run_id))
                with progress.task("push") as task:
                    pushed = deliver_pushes(config, store, connectors=connectors, run_id=run_id,
                                            progress=task)
                report.pushes += pushed
                lap("deliver")
                if not pushed.read_back or "issue" not in steps:
                    break  # the platforms' answers changed nothing this run would award
        except BaseException:
            report.errors = store.runs.errors(run_id)
            store.runs.finish(run_id, "failed", report.as_dict())
            log.error("run failed", exc_info=True)
            raise
        report.errors = store.runs.errors(run_id)
        report.status = "partial" if report.exit_code() else "ok"
        store.runs.finish(run_id, report.status, report.as_dict())
        log.info("run %s: %d evaluated, %d awarded, emails sent %d, not delivered %d, pushes "
                 "sent %d, %d error lines", report.status, report.evaluated, report.awarded,
                 report.emails.sent, report.emails.undelivered, report.pushes.sent,
                 len(report.errors))
    return report


def _evaluate(store: Store, ruleset: RuleSet, config: Config, run_id: int, report: RunReport,
              *, issue_too: bool, lap: Callable[[str], None],
              progress: Progress = NO_PROGRESS) -> None:
    """Evaluate the queued learners; with `issue_too`, write the awards and clear the queue,
    a chunk of learners at a time (jobs.evaluate.evaluate_and_issue)."""
    with (progress if issue_too else NO_PROGRESS).task("issue") as task:
        done = evaluate_and_issue(store, ruleset, run_id, config.bridge.default_language,
                                  public_url=config.bridge.public_url, issue_too=issue_too,
                                  progress=task, lap=lap)
    report.evaluated += done.evaluated
    report.awarded += done.awarded
