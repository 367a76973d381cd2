"""One sync run as explicit steps: pull → store → evaluate → issue → outbox → deliver.

Each step is idempotent, so a run stopped anywhere is finished by the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.config import Config
from bridge.store import Store
from jobs.deliver import deliver_emails
from jobs.evaluate import Decisions, candidates, decide, issue, mark_evaluated, publish_badges
from jobs.pull import pull_sources
from jobs.push import deliver_pushes, enqueue_attestations

__all__ = ["RunReport", "run_sync", "STEPS", "load_ruleset"]

STEPS = ("pull", "evaluate", "issue", "deliver")
# pull also enqueues presence attestations; deliver also pushes them back to the platforms.


@dataclass
class RunReport:
    run_id: int | None
    status: str = "ok"
    sources: dict[str, Any] = field(default_factory=dict)
    evaluated: int = 0
    awarded: int = 0
    emails: dict[str, int] = field(default_factory=dict)
    pushes: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    decisions: Decisions | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "sources": self.sources,
                "evaluated": self.evaluated, "awarded": self.awarded, "emails": self.emails,
                "pushes": self.pushes,
                "errors": self.errors, "seconds": self.seconds}


def evaluate_and_issue(store: Store, ruleset: Any, config: Config, run_id: int, report: RunReport,
                       *, issue_too: bool, lap: Callable[[str], None] = lambda step: None) -> None:
    """Evaluate the queued learners; with `issue_too`, write the awards and clear the queue."""
    todo, queue_rows = candidates(store, ruleset)
    decisions = decide(store, ruleset, todo)
    report.decisions = decisions
    report.evaluated += decisions.evaluated
    lap("evaluate")
    if issue_too:
        report.awarded += issue(store, decisions, run_id, config.bridge.default_language)
        mark_evaluated(store, ruleset, queue_rows)
        lap("issue")


def load_ruleset(config: Config) -> Any:
    from badge_rules import load_rules

    return load_rules(config.bridge.rules_dir, config.source_courses())


def run_sync(config: Config, store: Store, *, ruleset: Any | None = None,
             sources: Sequence[str] | None = None, steps: Sequence[str] = STEPS,
             connectors: dict[str, Any] | None = None, trigger: str = "cli",
             full: bool = False) -> RunReport:
    """Run the given steps once. Rules are loaded (and so validated) before anything is written.
    `full`: the pull reads every learner again, whatever their signals say."""
    ruleset = ruleset if ruleset is not None else load_ruleset(config)
    run_id = store.begin_run(list(sources or config.sources), trigger)
    report = RunReport(run_id)
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[step] = round(now - clock, 3)
        clock = now

    try:
        if "pull" in steps:
            report.sources = pull_sources(config, store, run_id, list(sources) if sources else None,
                                          connectors, full)
            report.pushes = enqueue_attestations(config, store, run_id)
            lap("pull")
        if "evaluate" in steps:
            publish_badges(store, ruleset)
            evaluate_and_issue(store, ruleset, config, run_id, report, issue_too="issue" in steps,
                               lap=lap)
        if "deliver" in steps:
            report.emails = deliver_emails(config, store)
            report.pushes = {**report.pushes, **deliver_pushes(config, store, connectors=connectors,
                                                                   run_id=run_id)}
            if report.pushes.get("sent") and "issue" in steps and store.pending_evaluations():
                # The pushes completed courses on the platforms (their read-back is stored):
                # award and send those in this run rather than the next.
                evaluate_and_issue(store, ruleset, config, run_id, report, issue_too=True)
                for key, value in deliver_emails(config, store).items():
                    report.emails[key] = report.emails.get(key, 0) + value
            lap("deliver")
    except BaseException:
        store.finish_run(run_id, "failed", report.as_dict())
        raise
    report.errors = [{k: v for k, v in e.items() if k in ("source", "endpoint", "status_code", "code",
                                                           "field", "message")}
                     for e in store.run_errors(run_id)]
    failed = report.emails.get("failed") or report.pushes.get("failed")
    report.status = "partial" if report.errors or failed else "ok"
    store.finish_run(run_id, report.status, report.as_dict())
    return report
