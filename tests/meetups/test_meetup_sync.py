"""A check-in ends in an award and a push-back: the presence the check-in page wrote is counted
by the `presence` predicate at the next sync, named as evidence, and pushed to Moodle (the
sandbox) exactly once, however many runs follow."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import requests

from bridge.issuing.issuer import Issuer
from bridge.issuing.keys import generate_key
from bridge.issuing.ob2 import evidence
from jobs.run import run_sync
from sandbox import SandboxPlatform

RULE = '''
[badge]
id = "rencontre-snt"
name = { fr = "Temps de rencontre SNT", en = "SNT meetup" }
description = { fr = "A participé à un temps de rencontre.", en = "Attended a meetup." }

[condition]
all = [{ presence = { source = "rencontres", course = "42", tag = "temps-de-rencontre" } }]
'''


@pytest.fixture
def sandbox():
    with SandboxPlatform("moodle", learners=30, seed=4, now=1_760_000_000, retry_after=0) as sb:
        yield sb


def setup(tmp_path: Path, make_meetup, sandbox: SandboxPlatform, route: str):
    course = sandbox.world.courses[0]
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rencontre.toml").write_text(RULE, encoding="utf-8")
    meetup = make_meetup(f'''
{route}

[sources.lms]
kind = "moodle"
url = "{sandbox.base_url}"
token = "{sandbox.token}"
courses = ["{course.id}"]
'''.replace("CMID", str(course.attendance_cmid)).replace("COURSE", str(course.id)))
    learner = next(u for u in sandbox.world.enrolled(course.id)
                   if not sandbox.world.activity_completed(u, course, course.attendance_cmid))
    return meetup, course, learner


ROUTE = '''[[sources.rencontres.push]]
tag = "temps-de-rencontre"
to = "lms"
course = "COURSE"
target = "completion:CMID"'''


def test_a_check_in_is_awarded_with_the_meetup_as_evidence_and_pushed_back_once(
        tmp_path, make_meetup, sandbox, phone) -> None:
    meetup, course, learner = setup(tmp_path, make_meetup, sandbox, ROUTE)
    session = meetup.session(title="Atelier « SNT » & robots", place="Fab lab du port", town="Nice")
    done = phone().check_in(meetup.qr_url(session), learner.email.upper())
    assert phone.outcome(done) == "checked_in"
    meetup.store.meetups.close(session.id)
    first = run_sync(meetup.config, meetup.store)
    # No mail server here: the award's email waits (the run is partial for it), nothing else.
    assert [e.step for e in first.errors] == ["email"] and first.exit_code() == 5, first.errors
    assert first.awarded == 1
    [listed] = meetup.store.awards.listing(badge_id="rencontre-snt")
    assert listed.email == learner.email.lower()
    [proof] = [p for p in listed.award.provenance if p["source"] == "rencontres"]
    assert (proof["kind"], proof["course"], proof["item"]) == ("presence", "42", session.id)
    # The evidence says it in words, with the session's title and place (OB 2.0, OB 3.0, page).
    for kind in ("rsa", "ed25519"):
        generate_key(meetup.config.bridge.keys_path, kind)
    issuer = Issuer(meetup.config, meetup.store)
    [words] = [e["narrative"] for e in evidence(issuer.urls, listed.award)]
    assert words.startswith("Présent·e à «\u00a0Atelier « SNT » & robots\u00a0», Fab lab du port, Nice — ")
    assert session.id not in words and "rencontres" not in words
    assert [e["narrative"] for e in issuer.ob3_credential(listed.award)["evidence"]] == [words]
    page = requests.get(issuer.urls.verify_page(listed.award.id), headers={"Accept": "text/html"},
                        timeout=30)
    assert html.escape(words, quote=False) in page.text
    overrides = [p for p in sandbox.pushes if p["kind"] == "moodle.override"]
    assert [(p["userid"], p["cmid"]) for p in overrides] == [(learner.id, course.attendance_cmid)]
    assert sandbox.world.activity_completed(learner, course, course.attendance_cmid)
    [item] = meetup.store.outbox.items("push")
    assert item.status == "sent" and item.payload["session"] == f"rencontres/{session.id}"
    for _ in range(2):  # later runs push nothing again and award nothing again
        again = run_sync(meetup.config, meetup.store)
        assert again.awarded == 0 and again.pushes.sent == 0
    assert len([p for p in sandbox.pushes if p["kind"] == "moodle.override"]) == 1


def test_a_session_of_its_own_target_pushes_without_a_route(tmp_path, make_meetup, sandbox, phone) -> None:
    meetup, course, learner = setup(tmp_path, make_meetup, sandbox, "")
    session = meetup.session(push_to="lms", push_target=f"completion:{course.attendance_cmid}")
    assert phone.outcome(phone().check_in(meetup.qr_url(session), learner.email)) == "checked_in"
    report = run_sync(meetup.config, meetup.store)
    assert report.pushes.sent == 1
    assert [p["userid"] for p in sandbox.pushes if p["kind"] == "moodle.override"] == [learner.id]


def test_an_unmatched_check_in_waits_for_its_learner_then_is_pushed(
        tmp_path, make_meetup, sandbox, phone) -> None:
    meetup, course, learner = setup(tmp_path, make_meetup, sandbox, ROUTE)
    session = meetup.session()
    run_sync(meetup.config, meetup.store)
    phone().check_in(meetup.qr_url(session), "perso.address@example.net")
    report = run_sync(meetup.config, meetup.store)
    assert report.queued.waiting_identity == 1 and report.pushes.sent == 0
    [unmatched] = meetup.store.meetups.unmatched()
    assert meetup.store.meetups.link_address(unmatched.id, learner.email)
    report = run_sync(meetup.config, meetup.store)
    assert report.pushes.sent == 1
    assert [p["userid"] for p in sandbox.pushes if p["kind"] == "moodle.override"] == [learner.id]
