"""`confirm = "email"`: a check-in waits until the link sent to the address is used, so nobody
checks in for someone else. The email goes through the outbox and a real SMTP exchange; opening
the link (as mail scanners do) confirms nothing, pressing its button does."""

from __future__ import annotations

import re
import time

import pytest
import requests

from bridge.delivery.catcher import MailCatcher
from jobs.run import run_sync


@pytest.fixture
def catcher():
    mail = MailCatcher().start()
    yield mail
    mail.stop()


def wait_for(check, tries: int = 2400):
    """`check()`'s first truthy answer, asked every 50 ms; a test that never gets one fails
    after `tries` (a bound for a stuck test, not a speed check)."""
    for _ in range(tries):
        if found := check():
            return found
        time.sleep(0.05)
    pytest.fail("nothing arrived")


def test_the_check_in_waits_for_the_emailed_link(make_meetup, catcher, phone) -> None:
    meetup = make_meetup(smtp_port=catcher.port)
    session = meetup.session(confirm="email", title="Atelier « robots »")
    p = phone("en")
    answer = p.check_in(meetup.qr_url(session), "Sam@Example.org")
    assert phone.outcome(answer) == "pending" and "sam@example.org" in answer.text
    [checkin] = meetup.store.meetups.checkins(session.id)
    assert checkin.status == "pending"
    assert meetup.store.facts.learner_by_email("sam@example.org") is None  # no presence yet
    [message] = wait_for(lambda: catcher.messages)
    assert message["To"] == "sam@example.org" and message["Date"]
    assert message["Content-Language"] == "en"
    assert "Atelier « robots »" in message["Subject"]
    link = re.search(r"http://\S+/m/confirm/\S+", message.get_body(("plain",)).get_content()).group(0)
    # the mail server has the message before the sender records it sent: wait for the record
    assert wait_for(lambda: [i.status for i in meetup.store.outbox.items("meetup-mail")
                             if i.status != "sending"]) == ["sent"]
    # a mail scanner fetching the link (no cookies, no form) confirms nothing
    assert requests.get(link, timeout=30).status_code == 200
    assert meetup.store.meetups.checkin(checkin.id).status == "pending"
    page = p.open(link)
    assert 'id="confirm-link-form"' in page.text and "sa•••@e•••.org" in page.text
    done = p.post(link)
    assert phone.outcome(done) == "checked_in"
    assert meetup.store.meetups.checkin(checkin.id).status == "present"
    learner = meetup.store.facts.learner_by_email("sam@example.org")
    [fact] = meetup.store.facts.of_learners([learner.id])[learner.id]
    assert fact.item == session.id and fact.value == 1.0
    assert phone.outcome(p.open(link)) == "already"
    forged = phone().open(link[:-5] + ("B" if link[-5] == "A" else "A") + link[-4:])
    assert phone.outcome(forged) == "no_link"


def test_an_email_the_mail_server_missed_is_sent_by_the_next_run(make_meetup, phone) -> None:
    meetup = make_meetup(smtp_port=1)  # nothing listens there
    session = meetup.session(confirm="email")
    assert phone.outcome(phone().check_in(meetup.qr_url(session), "late@example.org")) == "pending"
    wait_for(lambda: [i for i in meetup.store.outbox.items("meetup-mail") if i.status != "sending"
                      and i.attempts])
    [item] = meetup.store.outbox.items("meetup-mail")
    assert item.status == "pending" and "cannot reach the mail server" in (item.last_error or "")
    mail = MailCatcher().start()
    try:
        config = meetup.config.model_copy(update={"smtp": meetup.config.smtp.model_copy(
            update={"port": mail.port})})
        meetup.store.outbox.reset(item.key)
        config.bridge.rules_dir.mkdir()
        (config.bridge.rules_dir / "b.toml").write_text(
            '[badge]\nid = "b"\nname = "B"\ndescription = "B"\n[condition]\n'
            'all = [{ presence = { source = "rencontres", course = "42" } }]\n', encoding="utf-8")
        report = run_sync(config, meetup.store)
        assert report.emails.sent == 1
        assert [m["To"] for m in mail.messages] == ["late@example.org"]
    finally:
        mail.stop()


def test_the_organiser_gets_their_link_by_email_and_a_new_one_replaces_it(make_meetup, catcher) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    from click.testing import CliRunner

    from cli import main

    meetup = make_meetup(smtp_port=catcher.port)
    start = datetime.now(UTC).replace(microsecond=0)
    created = CliRunner().invoke(main, [
        "--lang", "en", "meetups", "create", "--config", str(meetup.config.file), "--title",
        "Atelier", "--place", "Fab lab", "--start", start.isoformat(),
        "--end", (start + timedelta(hours=2)).isoformat(), "--course", "42",
        "--organiser-email", "Animatrice@Example.org", "--json"])
    assert created.exit_code == 0, created.output
    doc = json.loads(created.output)
    assert doc["organiser_emailed"] is True and doc["organiser_email"] == "animatrice@example.org"
    [message] = catcher.messages
    assert message["To"] == "animatrice@example.org" and "Atelier" in message["Subject"]
    assert message["Content-Language"] == "fr"  # the issuer's language
    text = message.get_body(("plain",)).get_content()
    assert doc["organiser_url"] in text
    assert requests.get(doc["organiser_url"], timeout=30).status_code == 200
    relinked = CliRunner().invoke(main, ["meetups", "link", doc["id"], "--config",
                                         str(meetup.config.file), "--json"])
    new = json.loads(relinked.output)
    assert new["organiser_emailed"] is True and len(catcher.messages) == 2
    assert new["organiser_url"] in catcher.messages[1].get_body(("plain",)).get_content()
    assert requests.get(doc["organiser_url"], timeout=30).status_code == 403  # the emailed old one
    # a link queued while the mail server was away, then replaced: the stale one is never sent
    from bridge.meetups.mail import deliver_meetup_mails, queue_organiser_link

    session = meetup.store.meetups.get(doc["id"])
    meetup.store.meetups.new_link(session.id)
    assert queue_organiser_link(meetup.store, meetup.config, meetup.store.meetups.get(session.id))
    meetup.store.meetups.new_link(session.id)
    counts = deliver_meetup_mails(meetup.config, meetup.store)
    # not a delivery failure: there is nothing left to send
    assert (counts.sent, counts.failed, counts.cancelled) == (0, 0, 1) and len(catcher.messages) == 2


def test_a_session_declared_with_an_organiser_sends_them_the_link_at_the_next_run(make_meetup, catcher) -> None:
    meetup = make_meetup('''
[[sources.rencontres.sessions]]
id = "nice-1"
title = "Rencontre de Nice"
place = "Fab lab"
start = 2026-12-05T09:30:00
end = 2026-12-05T12:00:00
course = "42"
organiser_email = "anim@example.org"
''', smtp_port=catcher.port)
    meetup.config.bridge.rules_dir.mkdir()
    (meetup.config.bridge.rules_dir / "b.toml").write_text(
        '[badge]\nid = "b"\nname = "B"\ndescription = "B"\n[condition]\n'
        'all = [{ presence = { source = "rencontres", course = "42" } }]\n', encoding="utf-8")
    for _ in range(2):
        run_sync(meetup.config, meetup.store)
    [message] = catcher.messages
    assert message["To"] == "anim@example.org"
    assert meetup.desk.organiser_url(meetup.store.meetups.get("nice-1")) in \
        message.get_body(("plain",)).get_content()
