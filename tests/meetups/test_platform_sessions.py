"""Moodle's attendance sessions become meetup sessions (`platform_sessions`): named from the
session's description as Moodle shows it, their check-ins pushed back as the learner's status in
that very attendance session (mod_attendance_update_user_status on the sandbox, shaped like a
real Moodle 4.5 with mod_attendance 2024020500)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.run import run_sync
from sandbox import SandboxPlatform

RULE = '''
[badge]
id = "rencontre"
name = "Rencontre"
description = "A participé à une rencontre."

[condition]
all = [{ presence = { source = "rencontres", course = "42", tag = "moodle" } }]
'''


def test_attendance_sessions_are_taken_in_and_their_check_ins_pushed_back(tmp_path, make_meetup) -> None:
    with SandboxPlatform("moodle", learners=20, seed=3, retry_after=0) as sb:
        course = sb.world.courses[0]
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.toml").write_text(RULE, encoding="utf-8")
        meetup = make_meetup(f'''
[[sources.rencontres.platform_sessions]]
source = "lms"
course = "{course.id}"
tags = ["moodle"]

[sources.lms]
kind = "moodle"
url = "{sb.base_url}"
token = "{sb.token}"
courses = ["{course.id}"]
''')
        first = run_sync(meetup.config, meetup.store)
        assert first.sessions.from_platforms == len(course.sessions) == first.sessions.created
        moodle_session = course.sessions[1]
        session = meetup.store.meetups.get(f"lms-{moodle_session.id}")
        assert session is not None and session.origin == "lms" and session.source == "rencontres"
        assert session.title == "Temps de rencontre n°2 — projets SNT en classe"
        assert session.place == "Médiathèque Louis Nucéra, Nice"
        assert session.starts_at == datetime.fromtimestamp(moodle_session.sessdate, UTC)
        assert (session.ends_at - session.starts_at).total_seconds() == moodle_session.duration
        assert (session.push_to, session.push_target) == ("lms", f"attendance:{moodle_session.id}")
        learner = next(u for u in sb.world.enrolled(course.id)
                       if moodle_session.id not in u.progress[course.id].attendance)
        meetup.desk.check_in(session, learner.email, "organiser")
        second = run_sync(meetup.config, meetup.store)
        assert second.sessions.created == 0 and second.awarded == 1
        marks = [p for p in sb.pushes if p["kind"] == "moodle.attendance"]
        assert [(p["sessionid"], p["studentid"]) for p in marks] == [(moodle_session.id, learner.id)]
        assert sb.world.attended(learner, course)
        run_sync(meetup.config, meetup.store)
        assert len([p for p in sb.pushes if p["kind"] == "moodle.attendance"]) == 1
        # a teacher renames the session in Moodle: the check-ins' presences say the new title
        moodle_session.description = "<p>Rencontre renommée</p>"
        run_sync(meetup.config, meetup.store)
        learner_row = meetup.store.facts.learner_by_email(learner.email)
        facts = meetup.store.facts.of_learners([learner_row.id])[learner_row.id]
        [fact] = [f for f in facts if f.source == "rencontres"]
        assert fact.attrs["title"] == "Rencontre renommée"
