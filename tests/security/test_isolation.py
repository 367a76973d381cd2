"""One record that cannot be processed fails alone, recorded on the run with its place; the
rest of the run proceeds (the batch's other emails, the other facts, the push-back)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bridge.model import Batch, Fact, FactKind, Identity
from bridge.store.schema import awards, learners
from jobs import deliver
from jobs.run import run_sync

ROWS = "".join(f"learner{i}@example.org,Nom{i},Prénom{i},présent,2026-03-0{i}\n" for i in range(1, 6))


def test_a_name_with_a_line_break_already_stored_does_not_stop_the_emails(world) -> None:
    """A name stored with CR/LF (before names were cleaned where they enter) is one header line."""
    world.sheet(ROWS)
    run_sync(world.config, world.store, steps=("pull", "evaluate", "issue"))
    with world.store.engine.begin() as conn:
        conn.execute(update(awards).values(recipient_name="Ann\r\nBcc: victim@example.net"))
        conn.execute(update(learners).values(fullname="Ann\r\nBcc: victim@example.net"))
    report = run_sync(world.config, world.store)
    assert report.emails.sent == 5 and report.emails.failed == 0
    assert all(r == [r[0]] and r[0].startswith("learner") for r in world.mailbox.recipients)
    for msg in world.mailbox.messages:
        assert "\n" not in str(msg["To"]) and "victim" not in str(msg.get("Bcc", ""))


def test_an_email_that_cannot_be_composed_fails_alone_and_is_on_the_run(world, monkeypatch) -> None:
    world.sheet(ROWS)
    real = deliver.award_mail
    broken: list[str] = []

    def award_mail(config, store, award, issuer=None, kind="award"):
        if award.recipient_email == "learner3@example.org":
            broken.append(award.id)
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return real(config, store, award, issuer, kind)

    monkeypatch.setattr(deliver, "award_mail", award_mail)
    report = run_sync(world.config, world.store)
    assert report.awarded == 5
    assert report.emails.sent == 4 and report.emails.failed == 1
    [error] = [e for e in report.errors if e.code == "compose"]
    assert error.source == "email" and error.endpoint == f"award {broken[0]}"
    assert "ValueError at " in error.message and ".py:" in error.message
    assert "learner3" not in error.message
    assert report.status == "partial"


def test_a_platform_name_with_control_characters_is_cleaned_where_it_enters(world) -> None:
    run_id = world.store.runs.begin(["lms"])
    result = world.store.facts.ingest(run_id, Batch(
        identities=[Identity("lms", "7", email="a@example.org", fullname="Ann\r\nB\x00ob\x1b",
                             username="ann\n", lang="fr\x00")],
        facts=[Fact("lms", "7", FactKind.enrolment, "c1", status="enrolled\r\n",
                    attrs={"course_name": "Cours\x00 1\n"})]))
    assert result.new_facts == 1 and not result.refused
    learner = world.store.facts.learner_by_email("a@example.org") if hasattr(
        world.store.facts, "learner_by_email") else None
    ident = world.store.facts.identities("lms")["7"]
    assert ident.fullname == "Ann B ob" and ident.username == "ann" and ident.lang == "fr"
    del learner


def test_a_record_that_cannot_be_stored_is_refused_alone_with_its_place(world) -> None:
    run_id = world.store.runs.begin(["lms"])
    long_id = "9" * 500
    result = world.store.facts.ingest(run_id, Batch(
        identities=[Identity("lms", "1", email="ok@example.org"),
                    Identity("lms", long_id, email="long@example.org"),
                    Identity("lms", "3", email="x4+<svg/onload=alert(1)>@example.org")],
        facts=[Fact("lms", "1", FactKind.enrolment, "c1"),
               Fact("lms", long_id, FactKind.enrolment, "c1"),
               Fact("lms", "1", FactKind.activity_completion, "c1", item="x" * 300),
               Fact("lms", "1", FactKind.grade, "c1", item="5", value=float("nan")),
               Fact("lms", "3", FactKind.enrolment, "c1")]))
    assert result.new_facts == 2  # learner 1's enrolment, learner 3's enrolment (without address)
    fields = sorted(r.field or "" for r in result.refused)
    assert fields == ["email", "external_id", "item", "value"]
    for refusal in result.refused:
        assert refusal.source == "lms" and refusal.endpoint == "ingest"
        assert "@" not in str(refusal)  # the learner's reference, never their address
    assert world.store.facts.identities("lms")["3"].email is None


def test_an_out_of_range_timestamp_refuses_that_learner_not_the_source() -> None:
    """One learner's activity completed "in year 300,000" is refused with endpoint and field;
    before, the OverflowError stopped the whole source at endpoint `pull`."""
    from bridge.errors import SourceError
    from connectors.moodle.client import feed
    from connectors.moodle.course import _activity_facts
    from connectors.moodle.payloads import ActivitiesStatus
    from connectors.moodle.signals import read_signals

    def acts(when: int) -> ActivitiesStatus:
        return ActivitiesStatus.model_validate({"statuses": [
            {"cmid": 1, "modname": "page", "state": 1, "timecompleted": when, "tracking": 1}]})

    assert _activity_facts("lms", "42", "7", acts(1_700_000_000))[0].occurred_at.year == 2023
    with pytest.raises(SourceError) as refused:
        _activity_facts("lms", "42", "8", acts(10**13))
    assert refused.value.field == "statuses.timecompleted" and refused.value.code == "out_of_range"
    assert refused.value.endpoint == "core_completion_get_activities_completion_status"
    assert "learner 8" in str(refused.value)

    class Client:  # the grade report of three learners, two with a corrupt date
        def each(self, function, key, parse, add, **params):
            feed(function, "lms", key, parse, add(), [
                {"userid": uid, "gradeitems": [{"itemtype": "course", "graderaw": 5, "grademax": 10,
                                                "gradedategraded": when}]}
                for uid, when in ((1, 1_700_000_000), (2, -(10**15)), (3, 10**15))])

    signals = read_signals(Client(), "lms", "42", grades=True, attendance=[], present=set(), tags=[])
    assert sorted(signals.facts) == [1, 2]  # a negative date is "never", as Moodle means it
    [error] = signals.refused
    assert error.field == "usergrades.gradeitems.gradedategraded" and "learner 3" in str(error)
