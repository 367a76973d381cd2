"""Syncing the sandbox platform over real HTTP: a run through 10% faults ends with the same
facts as a clean run, and a run with nothing new costs what the connector docstrings promise."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config
from bridge.model import Fact, FactKind
from bridge.store import Store
from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.openedx import OpenEdxConfig, OpenEdxConnector
from jobs.pull import pull_sources
from sandbox import SandboxPlatform
from sandbox.world import COMPLETE

NOW = 1_760_000_000


def make(dialect: str, sb: SandboxPlatform, **extra: Any) -> Any:
    http = HttpClient("src", retries=8, backoff=0.0, sleep=lambda s: None)
    if dialect == "moodle":
        # a fixed clock: the rolling re-check has no share to read between two runs
        return MoodleConnector("src", MoodleConfig(url=sb.base_url, token=sb.token, **extra), http=http,
                               clock=lambda: NOW)
    cfg = OpenEdxConfig(url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret,
                        courses=sb.course_ids, **extra)
    return OpenEdxConnector("src", cfg, http=http)


def sync(store: Store, connector: Any) -> dict[str, Any]:
    config = Config(file=Path("bridge.toml"), sources={"src": connector.config})
    run = store.runs.begin(["src"])
    return pull_sources(config, store, run, connectors={"src": connector})["src"].as_dict() | {
        "run_errors": store.runs.errors(run)}


def stored(store: Store) -> dict[int, list[Fact]]:
    """Every learner's facts, as evaluation reads them."""
    return store.facts.of_learners(store.facts.learner_ids())


def all_facts(store: Store) -> set[tuple[Any, ...]]:
    return {(f.external_id, f.kind, f.course, f.item, f.value, f.status, f.occurred_at)
            for facts in stored(store).values() for f in facts}


@pytest.mark.parametrize("dialect", ["moodle", "openedx"])
def test_a_sync_through_ten_percent_faults_ends_like_a_clean_one(dialect: str, tmp_path: Path) -> None:
    results = []
    for rate in (0.0, 0.1):
        store = Store(f"sqlite:///{tmp_path / f'{rate}.db'}")
        with SandboxPlatform(dialect, learners=60, seed=11, fault_rate=rate, retry_after=0, now=NOW) as sb:
            stats = sync(store, make(dialect, sb, page_size=25 if dialect == "moodle" else 100))
        assert stats["run_errors"] == [], stats["run_errors"]
        results.append(all_facts(store))
    assert results[0] and results[0] == results[1]


@pytest.mark.parametrize("dialect", ["moodle", "openedx"])
def test_a_rerun_with_no_change_is_bounded_and_adds_nothing(dialect: str, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    with SandboxPlatform(dialect, learners=120, courses=2, seed=5, profile="scale", now=NOW) as sb:
        first = sync(store, make(dialect, sb, page_size=50))
        second = sync(store, make(dialect, sb, page_size=50))
        courses = len(sb.course_ids)
        roster = max(len(sb.world.enrolled(c.id)) for c in sb.world.courses) + len(sb.world.teachers)
    assert first["new_facts"] > 0 and second["new_facts"] == 0 and second["changed_facts"] == 0
    pages = math.ceil((roster + 1) / 50)
    # Moodle: site info + course list + course names + per course (module names, grades,
    # contents, sessions, roster pages)
    # Open edX: token + per course: its name (Course API detail), enrollment pages (100 rows,
    # the server's maximum), grade and aggregator pages (`page_size` rows, 50 here); no account
    # read: every email is known
    bound = 3 + courses * (4 + pages) if dialect == "moodle" else \
        1 + courses * (1 + math.ceil(roster / 100) + 2 * pages)
    assert second["requests"] <= bound < first["requests"]


def test_a_teachers_attendance_and_override_are_picked_up_without_a_new_access(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    with SandboxPlatform("moodle", learners=30, seed=3, now=NOW) as sb:
        sync(store, make("moodle", sb))
        course = sb.world.courses[0]
        cmid = course.attendance_cmid
        session = course.sessions[-1].id
        learner = next(u for u in sb.world.enrolled(course.id)
                       if not sb.world.activity_completed(u, course, cmid)
                       and session not in u.progress[course.id].attendance)
        access = learner.progress[course.id].lastcourseaccess
        learner.progress[course.id].attendance[session] = "P"  # the teacher takes attendance
        sb.world.set_activity(learner, course, cmid, COMPLETE, overrideby=sb.world.teachers[0].id)
        assert learner.progress[course.id].lastcourseaccess == access
        stats = sync(store, make("moodle", sb))
    assert stats["new_facts"] >= 1
    # the bounded pass (with the course and module names) plus this one learner's two reads
    assert stats["requests"] <= 8 + 2
    present = [facts for facts in stored(store).values()
               if any(f.kind is FactKind.presence and f.value == 1.0 for f in facts)]
    assert any(f.kind is FactKind.activity_completion and f.item == str(cmid) and f.value == 1.0
               for facts in present for f in facts)


@pytest.mark.parametrize("dialect", ["moodle", "openedx"])
def test_an_incremental_run_ends_with_the_facts_of_a_full_one(dialect: str, tmp_path: Path) -> None:
    import random

    store, fresh = Store(f"sqlite:///{tmp_path / 'inc.db'}"), Store(f"sqlite:///{tmp_path / 'full.db'}")
    with SandboxPlatform(dialect, learners=80, seed=9, now=NOW) as sb:
        sync(store, make(dialect, sb))
        changed = sb.world.mutate(random.Random(1), 6)  # six learners progress
        stats = sync(store, make(dialect, sb))
        sync(fresh, make(dialect, sb))
    assert len(changed) == 6 and stats["new_facts"] + stats["changed_facts"] > 0
    assert all_facts(store) == all_facts(fresh)


def test_the_in_person_unit_of_open_edx_is_read_for_changed_learners_only(tmp_path: Path) -> None:
    from sandbox.edx_blocks import presence_block

    store = Store(f"sqlite:///{tmp_path / 'u.db'}")
    with SandboxPlatform("openedx", learners=40, seed=2, now=NOW) as sb:
        block = presence_block(sb.world.courses[0])
        first = make("openedx", sb, blocks=[block])
        sync(store, first)
        second = make("openedx", sb, blocks=[block])
        sync(store, second)
        attended = {u.username for u in sb.world.enrolled(sb.world.courses[0].id)
                    if sb.world.activity_completed(u, sb.world.courses[0], sb.world.courses[0].attendance_cmid)}
    assert first.http.by_endpoint["courses/v1/blocks"] == 40
    assert second.http.by_endpoint["courses/v1/blocks"] == 0
    done = {f.external_id for facts in stored(store).values() for f in facts
            if f.item == block and f.value == 1.0}
    assert done == attended and done
