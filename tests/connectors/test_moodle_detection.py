"""Whose completion the Moodle connector reads again, over the sandbox: a teacher's override
is found by the completion report at the next run, or by the rolling re-check within `recheck`;
a refused part is said once and read again once granted; what Moodle leaves out is said once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config
from bridge.model import FactKind
from bridge.store import Store
from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.moodle.detect import Mark, due_for_recheck
from jobs.pull import pull_sources
from sandbox import SandboxPlatform
from sandbox.world import COMPLETE

T0 = 1_760_000_000
PER_LEARNER = ("core_completion_get_course_completion_status",
               "core_completion_get_activities_completion_status")


class Run:
    """Pulls one sandbox course into a store, the connector's clock set by the test."""

    def __init__(self, tmp_path: Path, sb: SandboxPlatform, **config: Any) -> None:
        self.sb, self.now = sb, T0
        self.store = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
        self.config = MoodleConfig(url=sb.base_url, token=sb.token, courses=["42"], **config)

    def pull(self, *, full: bool = False) -> dict[str, Any]:
        conn = MoodleConnector("m", self.config, http=HttpClient("m", retries=2, sleep=lambda s: None),
                               clock=lambda: self.now)
        run = self.store.runs.begin(["m"])
        stats = pull_sources(Config(file=Path("b.toml"), sources={"m": self.config}), self.store, run,
                             connectors={"m": conn}, full=full)["m"]
        said = [(e.code, e.message) for e in self.store.runs.errors(run)]
        return {"calls": dict(conn.requests), "errors": said + [("warning", w) for w in stats.warnings]}

    def complete(self) -> set[int]:
        return {int(e) for e in self.store.facts.holding("m", "42", FactKind.course_completion)}


def reads(calls: dict[str, int]) -> int:
    return sum(calls.get(f, 0) for f in PER_LEARNER)


def override_to_completion(sb: SandboxPlatform) -> int:
    """A teacher ticks what a learner who never came lacks: the course completes, no signal moves."""
    w, c = sb.world, sb.world.courses[0]
    learner = next(u for u in w.enrolled(c.id) if not w.course_completed(u, c)
                   and u.progress[c.id].lastcourseaccess == 0)
    for a in c.activities:
        if a.criterion:
            w.set_activity(learner, c, a.cmid, COMPLETE, overrideby=w.teachers[0].id)
    assert w.course_completed(learner, c)
    return learner.id


def test_the_rolling_recheck_spreads_the_reads_and_forces_the_overdue() -> None:
    marks = [(uid, Mark("0|", T0)) for uid in range(100)]
    assert len(due_for_recheck(marks, now=T0 + 900, recheck=3600, elapsed=900)) == 25
    assert due_for_recheck(marks, now=T0 + 10, recheck=3600, elapsed=0) == []
    late = [(uid, Mark("0|", T0 - 4000 if uid < 7 else T0)) for uid in range(100)]
    assert due_for_recheck(late, now=T0, recheck=3600, elapsed=0) == list(range(7))
    assert Mark.parse("1700|ab12") == Mark("1700|ab12", 0)  # a mark of an older version: due
    assert Mark.parse(Mark("5|", 9, partial=True).dump()) == Mark("5|", 9, partial=True)


def test_an_override_is_found_at_the_next_run_by_the_completion_report(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0) as sb:
        run = Run(tmp_path, sb, completion_report=1)
        first = run.pull()
        done = {u.id for u in sb.world.enrolled(42) if sb.world.course_completed(u, sb.world.courses[0])}
        assert run.complete() == done
        # course completion asked only of those the report lists as complete
        assert first["calls"]["core_completion_get_course_completion_status"] == len(done)
        learner = override_to_completion(sb)
        second = run.pull()
    assert run.complete() == done | {learner} and reads(second["calls"]) == 2
    assert second["calls"]["core_reportbuilder_retrieve_report"] == 1


def test_an_override_is_found_within_recheck_without_a_report(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0) as sb:
        run = Run(tmp_path, sb, recheck="1h")
        run.pull()
        incomplete = len(sb.world.enrolled(42)) - len(run.complete())
        learner = override_to_completion(sb)
        counts = []
        for _ in range(2):
            run.now += 1800
            counts.append(reads(run.pull()["calls"]) // 2)
    assert learner in run.complete()
    assert counts == [incomplete // 2, incomplete - incomplete // 2]  # each once, spread


def test_sync_full_reads_everyone(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0) as sb:
        run = Run(tmp_path, sb)
        run.pull()
        assert reads(run.pull()["calls"]) == 0
        assert reads(run.pull(full=True)["calls"]) == 2 * len(sb.world.enrolled(42))


def test_a_refused_part_is_said_once_kept_out_and_read_once_granted(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0, missing_capabilities={"report/completion:view"}) as sb:
        run = Run(tmp_path, sb)
        first = run.pull()
        learners = len(sb.world.enrolled(42))
        assert [code for code, _ in first["errors"]] == ["cannotviewreport"]
        assert "grant report/completion:view" in first["errors"][0][1]
        assert first["calls"]["core_completion_get_course_completion_status"] == 1
        assert first["calls"]["core_completion_get_activities_completion_status"] == learners
        assert run.complete() == set()
        still = run.pull()  # still refused: one learner read to ask, nobody else again for it
        assert reads(still["calls"]) == 2 and len(still["errors"]) == 1
        sb.missing_capabilities.clear()  # the administrator grants it
        granted = run.pull()
    assert granted["errors"] == [] and reads(granted["calls"]) == 2 * learners
    assert run.complete() == {u.id for u in sb.world.enrolled(42)
                              if sb.world.course_completed(u, sb.world.courses[0])}


@pytest.mark.parametrize("missing, text", [
    ({"moodle/site:viewuseridentity", "moodle/course:useremail"}, "came without their email"),
    ({"moodle/user:viewalldetails"}, "came without their language"),
    ({"moodle/user:viewdetails"}, "the roster came back empty"),
])
def test_what_moodle_leaves_out_without_an_error_is_said_once(tmp_path: Path, missing: set[str],
                                                              text: str) -> None:
    with SandboxPlatform("moodle", seed=7, now=T0, missing_capabilities=missing) as sb:
        errors = Run(tmp_path, sb).pull()["errors"]
    assert len(errors) == 1 and text in errors[0][1]
    assert all(cap in errors[0][1] for cap in missing)
