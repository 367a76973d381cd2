"""Syncing a real Moodle 4.5: what a first sync stores and awards, what a sync with nothing new
costs, and a completion made in Moodle without any learner activity."""

from __future__ import annotations

from typing import Any

from bridge.model import FactKind


def test_a_first_sync_stores_roster_completion_and_attendance_and_awards_the_completed(
        site: Any, hybrid: dict[str, Any], bridge: Any) -> None:
    b = bridge(hybrid["courseid"])
    report = b.sync()
    groups = hybrid["userids"]
    assert report.errors == [] and report.status == "ok"
    assert b.awarded() == set(groups["complete"])
    done = b.facts(FactKind.course_completion)
    assert {u for u, v in done.items() if v == 1.0} == set(groups["complete"])
    assert set(done) == {u for g in groups.values() for u in g}  # never-seen learners are read too
    meetup = b.facts(FactKind.activity_completion, str(hybrid["cmids"]["meetup"]))
    assert {u for u, v in meetup.items() if v == 1.0} == set(groups["complete"])
    present = b.facts(FactKind.presence, str(hybrid["sessionid"]))
    assert present == {u: 1.0 for u in groups["complete"]}
    idents = b.store.identities("campus")
    assert all(i["email"].endswith("@example.org") and i["lang"] in ("fr", "en") for i in idents.values())
