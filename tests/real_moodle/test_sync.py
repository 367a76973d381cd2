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
    idents = b.store.facts.identities("campus")
    # the names the evidence is written with, as Moodle 4.5.0 gives them (connectors.moodle.names)
    facts = [f for fs in b.store.facts.of_learners(b.store.facts.learner_ids()).values() for f in fs]
    assert {f.attrs.get("course_name") for f in facts} == {f"{hybrid['shortname']} — SNT hybrid course"}
    assert {f.attrs.get("item_name") for f in facts if f.kind is FactKind.activity_completion
            and f.item == str(hybrid["cmids"]["meetup"])} == {"Meetup (in person)"}
    assert all((i.email or "").endswith("@example.org") and i.lang in ("fr", "en") for i in idents.values())


PER_LEARNER = ("core_completion_get_course_completion_status",
               "core_completion_get_activities_completion_status")


class Clock:
    """The connector's clock, moved by the test (the rolling re-check counts in its seconds)."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def reads(calls: dict[str, int]) -> int:
    return sum(calls.get(f, 0) for f in PER_LEARNER)


def test_a_sync_with_nothing_new_costs_the_roster_and_a_constant(hybrid: dict[str, Any], bridge: Any) -> None:
    b = bridge(hybrid["courseid"], clock=Clock(), page_size=8)
    b.sync()
    first = b.calls()
    assert reads(first) == 2 * 20  # everyone is read once, the first time
    b.sync()
    again = b.calls()
    assert reads(again) == 0
    # site info, the names (course list, contents), grade report, contents for attendance, one
    # sessions call, ceil(20 learners + teacher / 8) pages
    assert again == {"core_webservice_get_site_info": 1, "gradereport_user_get_grade_items": 1,
                     "core_course_get_courses": 1, "core_course_get_contents": 2,
                     "mod_attendance_get_sessions": 1,
                     "core_enrol_get_enrolled_users": 3}


def test_a_teacher_override_is_awarded_within_recheck_without_any_learner_activity(
        site: Any, hybrid: dict[str, Any], bridge: Any) -> None:
    clock = Clock()
    b = bridge(hybrid["courseid"], clock=clock, recheck="1h")
    b.sync()
    b.calls()
    online = hybrid["userids"]["online_only"]
    incomplete = len(online) + len(hybrid["userids"]["not_started"])
    # the teacher ticks the in-person meetup: the course completes, no signal moves
    assert site.op("override", cmid=hybrid["cmids"]["meetup"],
                   userids=",".join(map(str, online)))["states"] == {str(u): 1 for u in online}
    read_each_run = []
    for _ in range(2):
        clock.now += 1800
        b.sync()
        read_each_run.append(reads(b.calls()) // 2)
    assert b.awarded() == set(hybrid["userids"]["complete"]) | set(online)
    # half of the learners not complete a run, each once: the re-reads are spread, not repeated
    assert read_each_run == [incomplete // 2, incomplete - incomplete // 2]


def test_a_teacher_override_is_awarded_at_the_next_run_with_the_completion_report(
        site: Any, hybrid: dict[str, Any], bridge: Any, completion_report: int) -> None:
    clock = Clock()
    b = bridge(hybrid["courseid"], clock=clock, completion_report=completion_report)
    b.sync()
    first = b.calls()
    # with the report, course completion is asked only of the learners it lists as complete
    assert first["core_completion_get_course_completion_status"] == len(hybrid["userids"]["complete"])
    overridden = hybrid["userids"]["online_only"][:3]
    site.op("override", cmid=hybrid["cmids"]["meetup"], userids=",".join(map(str, overridden)))
    b.sync()  # at the same second: the rolling re-check has no share to read
    assert b.awarded() == set(hybrid["userids"]["complete"]) | set(overridden)
    assert reads(b.calls()) == 2 * len(overridden)


def test_sync_full_reads_every_learner_again(hybrid: dict[str, Any], bridge: Any) -> None:
    b = bridge(hybrid["courseid"], clock=Clock())
    b.sync()
    b.calls()
    b.sync(full=True)
    assert reads(b.calls()) == 2 * 20


def test_a_teachers_grade_is_stored_and_rereads_that_learner_only(
        site: Any, hybrid: dict[str, Any], bridge: Any) -> None:
    b = bridge(hybrid["courseid"], clock=Clock())
    b.sync()
    b.calls()
    learner = hybrid["userids"]["not_started"][0]
    site.op("grade", courseid=hybrid["courseid"], userid=learner, grade=15)  # out of 20
    b.sync()
    assert reads(b.calls()) == 2  # the grade moved this learner's signal, nobody else's
    assert b.facts(FactKind.grade) == {learner: 0.75}  # the course total, as a fraction
