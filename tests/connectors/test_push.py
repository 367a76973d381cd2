"""Presence pushed back: a sign-in sheet's presences become exactly one completion push per
(learner, session, target), over repeated runs, through faults and after a crash mid-delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config
from bridge.model import Batch, Identity
from bridge.store import Store
from connectors.csv import CsvConfig, CsvConnector
from connectors.http import HttpClient
from connectors.moodle import MoodleConfig, MoodleConnector
from connectors.openedx import OpenEdxConfig, OpenEdxConnector
from connectors.push_route import PushRoute
from jobs.pull import pull_sources
from jobs.push import PushStats, QueueStats, deliver_pushes, enqueue_attestations
from sandbox import SandboxPlatform
from sandbox.edx_blocks import presence_block

NOW = 1_760_000_000


def sheet(tmp_path: Path, emails: list[str]) -> Path:
    rows = "\n".join(f"{e},Someone,meetup-1,2025-10-11,present" for e in emails)
    path = tmp_path / "sheet.csv"
    path.write_text(f"email,name,session,date,status\n{rows}\n", encoding="utf-8")
    return path


def setup(tmp_path: Path, sb: SandboxPlatform, target: str, *, dialect: str = "moodle",
          count: int = 3) -> tuple[Config, Store, dict[str, Any], list[str]]:
    course = sb.world.courses[0]
    fresh = [u for u in sb.world.enrolled(course.id)
             if u.email and not sb.world.activity_completed(u, course, course.attendance_cmid)][:count]
    emails = [u.email for u in fresh]
    http = HttpClient("lms", retries=8, backoff=0.0, sleep=lambda s: None)
    if dialect == "moodle":
        lms: Any = MoodleConnector("lms", MoodleConfig(url=sb.base_url, token=sb.token), http=http)
    else:
        lms = OpenEdxConnector("lms", OpenEdxConfig(
            url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret,
            courses=sb.course_ids), http=http)
    target_course = str(course.id) if dialect == "moodle" else course.key
    sheets = CsvConnector("sheets", CsvConfig(path=sheet(tmp_path, emails), push=[
        {"session": "*", "to": "lms", "course": target_course, "target": target}]))
    config = Config(file=Path("bridge.toml"), sources={"sheets": sheets.config, "lms": lms.config})
    store = Store(f"sqlite:///{tmp_path / 'bridge.db'}")
    connectors = {"sheets": sheets, "lms": lms}
    pull_sources(config, store, store.runs.begin(["sheets", "lms"]), connectors=connectors)
    return config, store, connectors, emails


def pushes(sb: SandboxPlatform, kind: str) -> list[dict[str, Any]]:
    return [p for p in sb.pushes if p["kind"] == kind]


@pytest.mark.parametrize("fault_rate", [0.0, 0.1])
def test_each_presence_is_pushed_once_over_repeated_runs(tmp_path: Path, fault_rate: float) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW, retry_after=0) as sb:
        cmid = sb.world.courses[0].attendance_cmid
        config, store, connectors, emails = setup(tmp_path, sb, f"completion:{cmid}")
        sb.set_fault_rate(fault_rate)
        for hour in range(8):  # a failed write waits for the outbox's backoff, then reads first
            enqueue_attestations(config, store)
            deliver_pushes(config, store, connectors=connectors,
                           now=datetime.now(UTC) + timedelta(hours=hour))
        overrides = pushes(sb, "moodle.override")
        by_learner = {sb.world.by_id[p["userid"]].email for p in overrides}
    assert len(overrides) == len(emails) and by_learner == set(emails)
    items = store.outbox.items("push")
    assert [i.status for i in items] == ["sent"] * len(emails)
    assert all(i.result and i.result["reflected"] for i in items)  # Moodle's own completion now says so


def test_a_crash_between_send_and_commit_does_not_send_twice(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        cmid = sb.world.courses[0].attendance_cmid
        config, store, connectors, emails = setup(tmp_path, sb, f"completion:{cmid}", count=1)
        enqueue_attestations(config, store)
        real_done = store.outbox.done

        def crash(*args: Any, **kwargs: Any) -> None:
            raise KeyboardInterrupt("the process died after the platform accepted the push")

        monkeypatch.setattr(store.outbox, "done", crash)
        with pytest.raises(KeyboardInterrupt):
            deliver_pushes(config, store, connectors=connectors)
        monkeypatch.setattr(store.outbox, "done", real_done)
        assert deliver_pushes(config, store, connectors=connectors).sent == 0  # still leased
        later = datetime.now(UTC) + timedelta(minutes=11)
        stats = deliver_pushes(config, store, connectors=connectors, now=later)
        assert stats.sent == 1
        assert len(pushes(sb, "moodle.override")) == 1
    assert store.outbox.items("push")[0].result["message"] == "already complete; nothing sent"


def test_a_refused_push_is_recorded_with_the_platforms_message_and_not_retried(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        config, store, connectors, _ = setup(tmp_path, sb, "completion:999999", count=1)
        enqueue_attestations(config, store)
        first = deliver_pushes(config, store, connectors=connectors)
        again = deliver_pushes(config, store, connectors=connectors,
                               now=datetime.now(UTC) + timedelta(days=1))
    assert first.failed == 1 and again == PushStats()
    item = store.outbox.items("push")[0]
    assert item.status == "failed" and "activity 999999 is not in course 42" in (item.last_error or "")


def test_an_open_edx_presence_block_is_completed_once(tmp_path: Path) -> None:
    with SandboxPlatform("openedx", learners=30, seed=4, now=NOW) as sb:
        block = presence_block(sb.world.courses[0])
        config, store, connectors, emails = setup(tmp_path, sb, f"block:{block}", dialect="openedx")
        for _ in range(2):
            enqueue_attestations(config, store)
            deliver_pushes(config, store, connectors=connectors)
        batches = pushes(sb, "openedx.completion_batch")
        # The push read the learners back: the next pull finds nothing the push changed.
        after = pull_sources(config, store, store.runs.begin(["lms"]), only=["lms"], connectors=connectors)
    assert len(batches) == len(emails)
    assert all(i.result and i.result["reflected"] for i in store.outbox.items("push"))
    assert after["lms"].new_facts == after["lms"].changed_facts == 0


def test_a_learner_unknown_to_the_platform_waits_instead_of_failing(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        cmid = sb.world.courses[0].attendance_cmid
        config, store, connectors, _ = setup(tmp_path, sb, f"completion:{cmid}", count=1)
        stranger = CsvConnector("sheets", connectors["sheets"].config.model_copy(
            update={"path": sheet(tmp_path, ["nobody@example.org"])}))
        pull_sources(config, store, store.runs.begin(["sheets"]), connectors={"sheets": stranger})
        stats = enqueue_attestations(config, store)
    assert stats == QueueStats(enqueued=1, waiting_identity=1)


def test_a_learner_waiting_for_an_identity_is_pushed_once_the_platform_knows_them(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        cmid = sb.world.courses[0].attendance_cmid
        config, store, connectors, _ = setup(tmp_path, sb, f"completion:{cmid}", count=1)
        late = CsvConnector("sheets", connectors["sheets"].config.model_copy(
            update={"path": sheet(tmp_path, ["late@example.org"])}))
        pull_sources(config, store, store.runs.begin(["sheets"]), connectors={"sheets": late})
        assert enqueue_attestations(config, store).waiting_identity == 1
        # A later pull of the receiving source brings the learner: their presence goes then.
        store.facts.ingest(store.runs.begin(["lms"]), Batch(identities=[
            Identity(source="lms", external_id="9999", email="late@example.org")]))
        assert enqueue_attestations(config, store) == QueueStats(enqueued=1)


def test_only_new_presences_are_read_until_a_route_is_added(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        course = sb.world.courses[0]
        config, store, connectors, emails = setup(tmp_path, sb, f"completion:{course.attendance_cmid}",
                                                  count=2)
        assert enqueue_attestations(config, store).enqueued == 2
        pull_sources(config, store, store.runs.begin(["sheets", "lms"]), connectors=connectors)
        assert store.facts.to_push.pending() == {}  # nothing new: no presence is read again
        assert enqueue_attestations(config, store) == QueueStats()
        # A route added to the source covers the presences it already holds.
        routes = [*config.sources["sheets"].push, PushRoute(
            to="lms", course=str(course.id), target=f"attendance:{course.sessions[-1].id}")]
        edited = Config(file=config.file, sources={
            **config.sources, "sheets": config.sources["sheets"].model_copy(update={"push": routes})})
        assert enqueue_attestations(edited, store).enqueued == len(emails)
        assert enqueue_attestations(edited, store) == QueueStats()


def test_an_attendance_status_is_set_once_and_said_not_to_complete_the_activity(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        course = sb.world.courses[0]
        session = course.sessions[-1].id
        config, store, connectors, emails = setup(tmp_path, sb, f"attendance:{session}", count=2)
        for _ in range(2):
            enqueue_attestations(config, store)
            deliver_pushes(config, store, connectors=connectors)
        marks = pushes(sb, "moodle.attendance")
        present = {u.email for u in sb.world.enrolled(course.id)
                   if u.progress[course.id].attendance.get(session) == "P"}
    assert len(marks) == 2 and {m["acronym"] for m in marks} == {"P"}
    assert set(emails) <= present
    results = [i.result or {} for i in store.outbox.items("push")]
    assert all(r["accepted"] and r["reflected"] is False for r in results)
    assert all("does not update completion" in r["message"] for r in results)


def test_a_crash_after_the_platforms_write_is_finished_by_the_next_pull(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The learner is queued for a re-read before the write: the next pull reads what the push
    changed even though the push's own read-back was never stored."""
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW) as sb:
        course = sb.world.courses[0]
        config, store, connectors, emails = setup(tmp_path, sb, f"completion:{course.attendance_cmid}",
                                                  count=1)
        learner = next(u for u in sb.world.enrolled(course.id) if u.email == emails[0])
        enqueue_attestations(config, store)

        def crash(*args: Any, **kwargs: Any) -> None:
            raise KeyboardInterrupt("killed between the platform's write and the commit")

        monkeypatch.setattr(store.outbox, "done", crash)
        with pytest.raises(KeyboardInterrupt):
            deliver_pushes(config, store, connectors=connectors)
        monkeypatch.undo()
        assert sb.world.activity_completed(learner, course, course.attendance_cmid)  # written

        def meetup() -> float | None:
            lid = next(lid for lid, i in store.facts.identities_of("lms", store.facts.learner_ids())
                       .items() if i.external_id == str(learner.id))
            return next(f.value for f in store.facts.of_learners([lid])[lid]
                        if f.kind == "activity_completion" and f.item == str(course.attendance_cmid))
        assert meetup() == 0.0  # the read-back was lost with the process
        lms = MoodleConnector("lms", connectors["lms"].config, http=HttpClient("lms", sleep=lambda s: None),
                              clock=lambda: NOW)  # no time passed: no re-check share, no signal moved
        pull_sources(config, store, store.runs.begin(["lms"]), only=["lms"], connectors={"lms": lms})
        assert meetup() == 1.0
        assert store.facts.watermark("lms", str(course.id), f"reread:{learner.id}") == ""
        assert len(pushes(sb, "moodle.override")) == 1


def test_a_refusal_an_administrator_can_fix_keeps_the_push_however_long_it_takes(tmp_path: Path) -> None:
    with SandboxPlatform("moodle", learners=30, seed=4, now=NOW,
                         missing_capabilities={"moodle/course:overridecompletion"}) as sb:
        cmid = sb.world.courses[0].attendance_cmid
        config, store, connectors, emails = setup(tmp_path, sb, f"completion:{cmid}")
        enqueue_attestations(config, store)
        run = store.runs.begin(["lms"])
        first = deliver_pushes(config, store, connectors=connectors, run_id=run)
        for day in range(1, 13):  # more attempts than MAX_ATTEMPTS, each after its backoff
            deliver_pushes(config, store, connectors=connectors,
                           now=datetime.now(UTC) + timedelta(days=day))
        items = store.outbox.items("push")
        assert first.refused == 3 and [i.status for i in items] == ["pending"] * 3
        assert min(i.attempts for i in items) > 10
        (line,) = store.runs.errors(run)  # one line for the three learners
        assert line.code == "nopermission" and "(3 pushes refused alike)" in line.message
        assert "grant moodle/course:overridecompletion" in line.message
        sb.missing_capabilities.clear()  # the administrator grants it
        stats = deliver_pushes(config, store, connectors=connectors,
                               now=datetime.now(UTC) + timedelta(days=14))
    assert stats.sent == 3 and len(pushes(sb, "moodle.override")) == 3
