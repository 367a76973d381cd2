"""`sync --dry-run`: what a run would award, found by doing its first steps on a copy.

The sources are pulled (their reads only: nothing is pushed back) into a copy in memory of
the store, read through a read-only connection (bridge.store.snapshot); the rules are
evaluated there as a run would (the learners with new facts, everyone for an edited rule).
Nothing is written: not the store, not a run, not a key, not a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from badge_rules import RuleSet
from bridge.config import Config
from bridge.progress import NO_PROGRESS, Progress
from bridge.store import Store
from connectors.base import Connector
from jobs.evaluate import candidates, decide, publish_badges
from jobs.pull import SourceStats, pull_sources

__all__ = ["DryRun", "dry_run"]


@dataclass
class DryRun:
    would_award: list[dict[str, str]] = field(default_factory=list)
    no_longer_granted: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, SourceStats] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"would_award": self.would_award, "no_longer_granted": self.no_longer_granted,
                "sources": {sid: s.as_dict() for sid, s in self.sources.items()},
                "errors": self.errors}


def dry_run(config: Config, ruleset: RuleSet, *, sources: Sequence[str] | None = None,
            connectors: dict[str, Connector] | None = None, full: bool = False,
            progress: Progress = NO_PROGRESS) -> DryRun:
    """The awards a run would make now, and those an edited rule would no longer grant."""
    store = Store.read_only_copy(config.bridge.db_url, keys_dir=config.bridge.keys_path)
    try:
        run_id = store.runs.begin(list(sources or config.sources), "dry-run")
        out = DryRun()
        out.sources = pull_sources(config, store, run_id, list(sources) if sources else None,
                                   connectors, full, progress=progress, dry_run=True)
        out.errors = [f"source {e.source} {e.endpoint}: {e.message}"
                      for e in store.runs.errors(run_id)]
        publish_badges(store, ruleset)
        decisions = decide(store, ruleset, candidates(store, ruleset)[0])
        out.would_award = [{"email": d.email or "", "badge": d.badge_id, "period": d.period}
                           for d in decisions.to_award]
        out.no_longer_granted = [asdict(r) for r in decisions.no_longer_granted]
        return out
    finally:
        store.close()
