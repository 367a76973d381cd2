"""A participant checks in from the QR code's URL, on the real web app: scan, type, confirm;
and every way a check-in is refused, with what was stored checked in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.model import Batch, FactKind, Identity


def test_scan_type_confirm_records_a_presence_fact(meetup, phone) -> None:
    session = meetup.session()
    p = phone()
    scanned = p.open(meetup.qr_url(session))
    assert scanned.status_code == 200
    assert scanned.url.endswith(f"/m/{session.id}"), "the token leaves the address bar"
    assert "Atelier SNT" in scanned.text and "Médiathèque Jean Macé, Lyon" in scanned.text
    answer = p.post(scanned.url, email=" Camille.Martin@Example.org ", step="email")
    assert 'id="confirm-form"' in answer.text and "camille.martin@example.org" in answer.text
    done = p.post(scanned.url, email="camille.martin@example.org", step="confirm")
    assert done.status_code == 201 and p.outcome(done) == "checked_in"
    assert "Vous êtes enregistrée" in done.text or "Vous êtes enregistré" in done.text
    [checkin] = meetup.store.meetups.checkins(session.id)
    assert (checkin.email, checkin.method, checkin.status) == ("camille.martin@example.org", "qr", "present")
    learner = meetup.store.facts.learner_by_email("camille.martin@example.org")
    [fact] = meetup.store.facts.of_learners([learner.id])[learner.id]
    assert (fact.source, fact.kind, fact.course, fact.item, fact.value) == (
        "rencontres", FactKind.presence, "42", session.id, 1.0)
    assert fact.attrs["title"] == "Atelier SNT"
    assert fact.attrs["place"] == "Médiathèque Jean Macé, Lyon"
    assert fact.attrs["method"] == "qr" and fact.attrs["tags"] == ["temps-de-rencontre"]
    assert datetime.fromisoformat(str(fact.attrs["session_date"])).utcoffset() in (
        timedelta(hours=1), timedelta(hours=2))  # Paris time, with its offset
    assert meetup.store.facts.to_push.pending(), "a new presence is queued for the push routes"


def test_a_second_check_in_is_the_first_one(meetup, phone) -> None:
    session = meetup.session()
    assert phone.outcome(phone().check_in(meetup.qr_url(session), "a@example.org")) == "checked_in"
    again = phone().check_in(meetup.qr_url(session), "A@example.org")
    assert again.status_code == 200 and phone.outcome(again) == "already"
    assert len(meetup.store.meetups.checkins(session.id)) == 1


def test_an_address_no_platform_knows_is_kept_as_unmatched_then_matched_by_a_sync(meetup, phone) -> None:
    session = meetup.session()
    done = phone().check_in(meetup.qr_url(session), "new.person@example.org")
    assert phone.outcome(done) == "checked_in" and 'data-matched="no"' in done.text
    assert [c.email for c in meetup.store.meetups.unmatched()] == ["new.person@example.org"]
    # the platform's next sync brings a learner with that address: the same person
    meetup.store.facts.ingest(1, Batch(identities=[Identity("moodle", "17", email="new.person@example.org",
                                                            fullname="Nouvelle Personne")]))
    assert meetup.store.meetups.unmatched() == []
    [checkin] = meetup.store.meetups.checkins(session.id)
    assert checkin.matched and checkin.fullname == "Nouvelle Personne"


def test_an_admin_links_an_unmatched_address_to_the_platform_learner(meetup, phone) -> None:
    session = meetup.session()
    meetup.store.facts.ingest(1, Batch(identities=[Identity("moodle", "17", email="c.martin@academie.fr")]))
    phone().check_in(meetup.qr_url(session), "camille@perso.example")
    [unmatched] = meetup.store.meetups.unmatched()
    assert meetup.store.meetups.link_address(unmatched.id, "c.martin@academie.fr")
    learner = meetup.store.facts.learner_by_email("c.martin@academie.fr")
    facts = meetup.store.facts.of_learners([learner.id])[learner.id]
    assert [(f.source, f.item) for f in facts] == [("rencontres", session.id)]
    assert meetup.store.meetups.unmatched() == []


def test_refusals_name_the_problem_and_store_nothing(meetup, phone) -> None:
    session, other = meetup.session(), meetup.session()
    now = datetime.now(UTC)
    token = meetup.desk.tokens.qr(session.id, now)
    window, _, signature = token.partition(".")
    cases = {
        "forged": f"{meetup.base}/m/{session.id}/{window}.{'A' * len(signature)}",
        "other session": f"{meetup.base}/m/{other.id}/{token}",
        "replayed": meetup.qr_url(session, now - timedelta(seconds=95)),
        "not ours": f"{meetup.base}/m/{session.id}/not-a-token",
    }
    expected = {"forged": "forged", "other session": "forged", "replayed": "expired", "not ours": "forged"}
    for case, url in cases.items():
        answer = phone().open(url)
        assert phone.outcome(answer) == expected[case], case
        assert answer.status_code in (403, 410), case
        assert 'id="checkin-form"' not in answer.text
    # the previous window is still accepted: a code scanned as it changed
    assert phone.outcome(phone().check_in(meetup.qr_url(session, now - timedelta(seconds=30)),
                                          "late@example.org")) == "checked_in"
    # a form posted without having scanned, or with another device's form token
    stranger = phone()
    assert phone.outcome(stranger.open(f"{meetup.base}/m/{session.id}")) == "no_ticket"
    assert phone.outcome(stranger.post(f"{meetup.base}/m/{session.id}", email="x@example.org",
                                       step="confirm")) == "no_ticket"
    thief, victim = phone(), phone()
    victim.open(meetup.qr_url(session))
    thief.open(meetup.qr_url(session))
    thief.page = victim.page  # the victim's form token, posted with the thief's cookies
    assert phone.outcome(thief.post(f"{meetup.base}/m/{session.id}", email="x@example.org",
                                    step="confirm")) == "forged"
    assert [c.email for c in meetup.store.meetups.checkins(session.id)] == ["late@example.org"]
    assert meetup.store.meetups.checkins(other.id) == []


def test_an_invalid_address_is_asked_again(meetup, phone) -> None:
    session = meetup.session()
    for typed in ("camille", "camille@", "a b@example.org", "x4+<svg/onload=alert(1)>@example.org"):
        answer = phone().check_in(meetup.qr_url(session), typed)
        assert answer.status_code == 422 and 'id="email-error"' in answer.text, typed
        assert "<svg/onload" not in answer.text
    assert meetup.store.meetups.checkins(session.id) == []


def test_closed_and_not_yet_open_sessions_refuse(meetup, phone) -> None:
    later = meetup.session(start=datetime.now(UTC) + timedelta(days=1))
    assert phone.outcome(phone().open(meetup.qr_url(later))) == "not_open"
    over = meetup.session(start=datetime.now(UTC) - timedelta(hours=5), hours=2)
    assert phone.outcome(phone().open(meetup.qr_url(over))) == "closed"
    session = meetup.session()
    p = phone()
    form = p.open(meetup.qr_url(session))
    meetup.store.meetups.close(session.id)
    # scanned before the organiser closed, confirmed after: refused
    assert phone.outcome(p.post(form.url, email="a@example.org", step="confirm")) == "closed"
    assert phone.outcome(phone().open(meetup.qr_url(session))) == "closed"
    assert meetup.store.meetups.checkins(session.id) == []


def test_a_thousand_rapid_check_ins_from_one_client_are_cut_short(meetup, phone) -> None:
    session = meetup.session()
    p = phone()
    form = p.open(meetup.qr_url(session))
    csrf = p.csrf()
    answers = [p.post(form.url, csrf=csrf, email=f"bot{i}@example.org", step="confirm").status_code
               for i in range(1000)]
    settings = meetup.desk.settings(session)
    accepted = answers.count(201)
    assert accepted == settings.per_device  # one phone checks in a few people at most
    assert answers.count(429) >= 1000 - settings.device_limit
    assert len(meetup.store.meetups.checkins(session.id)) == accepted
    # without cookies (a new device each time), the address's generous limit stops it
    statuses = [phone().check_in(meetup.qr_url(session), f"drone{i}@example.org").status_code
                for i in range(settings.ip_limit // 2 + 5)]
    assert 429 in statuses
    present = meetup.store.meetups.checkins(session.id)
    assert len(present) == accepted + statuses.count(201)
    learners = {meetup.store.facts.learner_by_email(c.email) for c in present}
    assert None not in learners, "every check-in taken has its presence: nothing half-stored"


def test_markup_in_titles_places_and_addresses_is_shown_as_text(meetup, phone) -> None:
    session = meetup.session(title='<script>window.pwned=1</script>Atelier', place='<img src=x onerror=alert(1)>',
                             town="Nice & Co")
    p = phone()
    page = p.open(meetup.qr_url(session))
    assert "<script>window.pwned" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;Atelier" in page.text
    assert "Nice &amp; Co" in page.text
    done = p.post(page.url, email='"<b>x</b>"@example.org', step="email")
    assert done.status_code == 422 and "<b>x</b>" not in done.text


def test_english_and_french_follow_the_phone_then_the_switch(meetup, phone) -> None:
    session = meetup.session()
    p = phone("en-GB,en;q=0.8")
    page = p.open(meetup.qr_url(session))
    assert '<html lang="en">' in page.text and "The email address you use" in page.text
    french = p.open(page.url + "?lang=fr")
    assert '<html lang="fr">' in french.text and "L’adresse électronique" in french.text


def test_check_ins_and_their_limits_hold_on_postgresql(make_meetup, pg_url, phone) -> None:
    meetup = make_meetup(db_url=pg_url)
    session = meetup.session()
    assert phone.outcome(phone().check_in(meetup.qr_url(session), "a@example.org")) == "checked_in"
    assert phone.outcome(phone().check_in(meetup.qr_url(session), "a@example.org")) == "already"
    p = phone()
    p.open(meetup.qr_url(session))
    csrf = p.csrf()
    codes = [p.post(f"{meetup.base}/m/{session.id}", csrf=csrf, email=f"b{i}@example.org",
                    step="email").status_code for i in range(25)]
    assert codes.count(200) == meetup.desk.settings(session).device_limit and codes.count(429) == 5
    assert [c.email for c in meetup.store.meetups.checkins(session.id)] == ["a@example.org"]
