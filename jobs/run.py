"""One sync run as explicit steps, one way: pull → evaluate → issue → deliver.

Each step is idempotent, so a run stopped anywhere is finished by the next one. What the
platforms answer to the pushes of *deliver* is stored like pulled facts: when it changed
something, evaluate → issue → deliver go round again, so a course a push completed is
awarded and emailed in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from badge_rules import RuleSet
from bridge.config import Config
from bridge.errors import EXIT_CODES, DeliveryError, SourceError
from bridge.meetups.mail import deliver_meetup_mails
from bridge.store import RunError, Store
from connectors.base import Connector
from jobs.deliver import EmailStats, deliver_emails
from jobs.evaluate import candidates, decide, issue, mark_evaluated, publish_badges
from jobs.meetups import SessionStats, refresh_sessions
from jobs.pull import SourceStats, pull_sources
from jobs.push import PushStats, QueueStats, deliver_pushes, enqueue_attestations

__all__ = ["RunReport", "run_sync", "STEPS", "MAX_ROUNDS", "load_ruleset"]

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

    def exit_code(self) -> int:
        """0 when nothing failed; else the README's code: a source error, including a push the
        platform refused or that failed, is 4 (it wins when both happen); an email that could
        not be delivered is 5. An email or a push waiting for a transient retry is neither."""
        if self.errors or self.pushes.failed or self.pushes.refused:
            return EXIT_CODES[SourceError]
        if self.emails.failed:
            return EXIT_CODES[DeliveryError]
        return 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (kept with the run, printed by `sync --json`)."""
        return {"run_id": self.run_id, "status": self.status,
                "sources": {sid: s.as_dict() for sid, s in self.sources.items()},
                "evaluated": self.evaluated, "awarded": self.awarded,
                "emails": self.emails.as_dict(),
                "pushes": {**self.queued.as_dict(), **self.pushes.as_dict()},
                "meetup_sessions": self.sessions.as_dict(),
                "rounds": self.rounds, "errors": [e.as_dict() for e in self.errors],
                "seconds": self.seconds}


def load_ruleset(config: Config) -> RuleSet:
    from badge_rules import load_rules

    return load_rules(config.bridge.rules_dir, config.source_courses())


def run_sync(config: Config, store: Store, *, ruleset: RuleSet | None = None,
             sources: Sequence[str] | None = None, steps: Sequence[str] = STEPS,
             connectors: dict[str, Connector] | None = None, trigger: str = "cli",
             full: bool = False, courses: Sequence[str] | None = None) -> RunReport:
    """Run the given steps once. Rules are loaded (and so validated) before anything is written.
    `full`: the pull reads every learner again, whatever their signals say. `courses`: only
    these courses of the sources that can pull a part of their courses (a worker's shard)."""
    ruleset = ruleset if ruleset is not None else load_ruleset(config)
    run_id = store.runs.begin(list(sources or config.sources), trigger)
    report = RunReport(run_id)
    clock = time.perf_counter()

    def lap(step: str) -> None:
        """Time spent in `step`, added up over the rounds."""
        nonlocal clock
        now = time.perf_counter()
        report.seconds[step] = round(report.seconds.get(step, 0.0) + now - clock, 3)
        clock = now

    try:
        if "pull" in steps:
            report.sources = pull_sources(config, store, run_id, list(sources) if sources else None,
                                          connectors, full, courses)
            report.sessions = refresh_sessions(config, store, run_id=run_id, connectors=connectors)
            lap("pull")
        if "evaluate" in steps:
            publish_badges(store, ruleset)
        while report.rounds < MAX_ROUNDS:
            report.rounds += 1
            if "evaluate" in steps:
                _evaluate(store, ruleset, config, run_id, report, issue_too="issue" in steps, lap=lap)
            if "deliver" not in steps:
                break
            report.queued += enqueue_attestations(config, store)
            report.emails += deliver_emails(config, store)
            report.emails += EmailStats(*deliver_meetup_mails(config, store))
            pushed = deliver_pushes(config, store, connectors=connectors, run_id=run_id)
            report.pushes += pushed
            lap("deliver")
            if not pushed.read_back or "issue" not in steps:
                break  # the platforms' answers changed nothing this run would award
    except BaseException:
        store.runs.finish(run_id, "failed", report.as_dict())
        raise
    report.errors = store.runs.errors(run_id)
    report.status = "partial" if report.exit_code() else "ok"
    store.runs.finish(run_id, report.status, report.as_dict())
    return report


def _evaluate(store: Store, ruleset: RuleSet, config: Config, run_id: int, report: RunReport,
              *, issue_too: bool, lap: Callable[[str], None]) -> None:
    """Evaluate the queued learners; with `issue_too`, write the awards and clear the queue."""
    todo, queue_rows = candidates(store, ruleset)
    decisions = decide(store, ruleset, todo)
    report.evaluated += decisions.evaluated
    lap("evaluate")
    if issue_too:
        report.awarded += issue(store, decisions, run_id, config.bridge.default_language,
                                public_url=config.bridge.public_url)
        mark_evaluated(store, ruleset, queue_rows)
        lap("issue")
