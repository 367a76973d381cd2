"""Presence pushed back to a real Moodle 4.5: a completion override completes the course and is
awarded in the same run; an attendance status is written as mod_attendance's own screen does."""

from __future__ import annotations

from typing import Any

from bridge.model import Attestation


def test_presence_pushed_as_completion_completes_the_course_and_is_awarded_in_the_same_run(
        hybrid: dict[str, Any], bridge: Any) -> None:
    online = hybrid["userids"]["online_only"]
    emails = [f"learner{n:04d}@example.org" for n in range(1, 21)]
    b = bridge(hybrid["courseid"], target=f"completion:{hybrid['cmids']['meetup']}", present=emails)
    report = b.sync(steps=("pull", "evaluate", "issue", "deliver"))
    assert report.errors == [] and report.status == "ok"
    # everyone on the sheet got the meetup; the online-only learners thereby completed the course
    assert b.awarded() == set(hybrid["userids"]["complete"]) | set(online)
    assert report.pushes.sent == 20 and report.pushes.reflected == 20
    pushed = {i.payload["external_id"] for i in b.store.outbox.items("push") if i.status == "sent"}
    assert len(pushed) == 20
    again = b.sync(steps=("pull", "evaluate", "issue", "deliver"))
    assert again.awarded == 0 and again.pushes.sent == 0


def test_an_attendance_push_writes_the_log_row_mod_attendance_writes(
        site: Any, hybrid: dict[str, Any]) -> None:
    ours, theirs = hybrid["userids"]["not_started"][:2]
    connector = site.connector(taker_id=site.op("teacher", courseid=hybrid["courseid"])["userid"])
    result = connector.push(Attestation(source="campus", external_id=str(ours),
                                        course=str(hybrid["courseid"]), session="sheets/meetup-1",
                                        target=f"attendance:{hybrid['sessionid']}"))
    assert result.accepted and result.reflected is False
    site.op("take", sessionid=hybrid["sessionid"], userid=theirs, status="P")
    rows = {int(r["studentid"]): r for r in site.op("log", sessionid=hybrid["sessionid"])["rows"]}
    keep = ("statusid", "statusset", "takenby")
    assert {k: rows[ours][k] for k in keep} == {k: rows[theirs][k] for k in keep}
    assert rows[ours]["statusset"].count(",") == 3  # the four statuses of the set, not "0"
