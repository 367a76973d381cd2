"""The store on SQLite and PostgreSQL: migrations, idempotent upserts, atomic hand-offs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, inspect

from bridge.model import Batch, Fact, FactKind, Identity, Watermark
from bridge.store import NewAward, NewOutboxItem, Store
from bridge.store.db import current_revision, head_revision, open_engine, upgrade


def _batch(n: int, completed: set[int] = frozenset(), source: str = "m") -> Batch:
    ids = [Identity(source=source, external_id=str(i), email=f"Learner{i}@Example.org ",
                    fullname=f"L {i}", lang="fr") for i in range(n)]
    facts = [Fact(source=source, external_id=str(i), kind=FactKind.course_completion, course="42",
                  value=1.0 if i in completed else 0.0,
                  occurred_at=datetime(2026, 1, 1, tzinfo=UTC) if i in completed else None)
             for i in range(n)]
    return Batch(identities=ids, facts=facts,
                 watermarks=[Watermark(source=source, course="42", stream="roster", value=str(n))])


def test_migrations_build_the_declared_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bridge.store.schema import metadata

    store = Store(db_url)
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert {"learners", "identities", "facts", "awards", "outbox", "runs", "watermarks"} <= set(
        inspect(store.engine).get_table_names())
    Store(db_url)  # a second upgrade is a no-op


def test_the_upgrade_gives_the_awards_written_before_it_a_status_slot(db_url):
    from bridge.store.schema import awards, badges, learners

    engine = open_engine(db_url)
    upgrade(engine, "0003")  # slots were then allocated by the first GET of a credential
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(learners).values(id=1, email="a@example.org", created_at=now))
        conn.execute(insert(badges).values(id="b", version="v1", definition={}, updated_at=now))
        conn.execute(insert(awards), [dict(
            id=f"a-{n}", learner_id=1, badge_id="b", period=str(n), issued_at=now, salt="s",
            recipient_email="a@example.org", lang="fr", rule_version="v1", provenance=[],
            status="issued") for n in range(5)])
    engine.dispose()
    store = Store(db_url)
    slots = [store.awards.get(f"a-{n}").status_slot for n in range(5)]
    assert None not in slots and len(set(slots)) == 5


def test_ingest_twice_changes_nothing_the_second_time(db_url):
    store = Store(db_url)
    run1 = store.runs.begin(["m"])
    first = store.facts.ingest(run1, _batch(30, completed={1, 2}))
    assert (first.new_facts, first.changed_facts, first.new_learners) == (30, 0, 30)
    run2 = store.runs.begin(["m"])
    again = store.facts.ingest(run2, _batch(30, completed={1, 2}))
    assert (again.new_facts, again.changed_facts, again.new_learners) == (0, 0, 0)
    assert len(store.facts.to_evaluate.pending()) == 30  # the first batch queued every learner once
    changed = store.facts.ingest(store.runs.begin(["m"]), _batch(30, completed={1, 2, 3}))
    assert changed.changed_facts == 1 and len(changed.touched) == 1
    assert store.facts.holding("m", "42", FactKind.course_completion) == {"1", "2", "3"}
    assert store.facts.watermark("m", "42", "roster") == "30"
    assert store.counts()["learners"] == 30


def test_learners_are_resolved_across_sources_by_normalised_email(db_url):
    store = Store(db_url)
    run = store.runs.begin(["a", "b"])
    store.facts.ingest(run, Batch(identities=[Identity(source="a", external_id="7", email="Camille@Ac-Nice.fr")]))
    store.facts.ingest(run, Batch(identities=[Identity(source="b", external_id="camille_l", email=" camille@ac-nice.fr"),
                                        Identity(source="b", external_id="ghost", email=None)]))
    assert store.counts()["learners"] == 2  # camille once, plus the learner without email
    assert store.facts.learner_by_email("CAMILLE@ac-nice.fr") is not None


def test_award_and_outbox_are_one_transaction_and_unique(db_url):
    store = Store(db_url)
    run = store.runs.begin(["m"])
    store.facts.ingest(run, _batch(1))
    learner = store.facts.learner_by_email("learner0@example.org")
    store.awards.publish_badge("b1", "v1", {"name": {"fr": "B"}}, b"png", "image/png")
    award = NewAward(id="a-1", learner_id=learner.id, badge_id="b1", period="1",
                     issued_at=datetime.now(UTC), salt="s", recipient_email="learner0@example.org",
                     recipient_name=None, lang="fr", rule_version="v1", provenance=[])
    written = store.awards.create(award, [NewOutboxItem("email:a-1", "email", {"award_id": "a-1"})])
    assert written is not None and written.status == "issued" and written.status_slot is not None
    # Same learner, badge and period: refused, and neither its slot nor its outbox item is written.
    assert store.awards.create(replace(award, id="a-2"),
                               [NewOutboxItem("email:a-2", "email", {"award_id": "a-2"})]) is None
    assert [i.key for i in store.outbox.items()] == ["email:a-1"]
    assert store.awards.get("a-2") is None


def test_a_batch_of_awards_is_written_whole_once_each_with_distinct_slots(db_url, monkeypatch):
    from bridge.errors import CapacityError
    from bridge.store import awards

    monkeypatch.setattr(awards, "STATUS_LIST_BITS", 4)  # collisions at nearly every draw
    store = Store(db_url)
    store.facts.ingest(store.runs.begin(["m"]), _batch(6))
    store.awards.publish_badge("b1", "v1", {"name": {"fr": "B"}}, b"png", "image/png")
    ids = sorted(store.facts.learner_ids())

    def award(n: int, learner: int) -> tuple[NewAward, list[NewOutboxItem]]:
        return (NewAward(id=f"a-{n}", learner_id=ids[learner], badge_id="b1", period="1",
                         issued_at=datetime.now(UTC), salt="s", recipient_email="x@example.org",
                         recipient_name=None, lang="fr", rule_version="v1", provenance=[]),
                [NewOutboxItem(f"email:a-{n}", "email", {"award_id": f"a-{n}"})])

    assert store.awards.create(*award(0, 0)) is not None
    # Learner 0 holds it already; learner 1 twice in the batch: once.
    written = store.awards.create_many([award(1, 0), award(2, 1), award(3, 1), award(4, 2)])
    assert [a.id if a else None for a in written] == [None, "a-2", None, "a-4"]
    assert sorted(i.key for i in store.outbox.items()) == ["email:a-0", "email:a-2", "email:a-4"]
    slots = [store.awards.get(a).status_slot for a in ("a-0", "a-2", "a-4")]
    assert len(set(slots)) == 3 and slots[1] == written[1].status_slot
    # One slot left for a batch of two: nothing of it is written.
    with pytest.raises(CapacityError, match="status list is full"):
        store.awards.create_many([award(5, 3), award(6, 4)])
    assert store.awards.get("a-5") is None and len(store.outbox.items()) == 3


def test_outbox_lease_is_taken_by_one_worker_only(db_url):
    store = Store(db_url)
    assert store.outbox.add([NewOutboxItem("push:1:s:t", "push", {"x": 1})]) == 1
    assert store.outbox.add([NewOutboxItem("push:1:s:t", "push", {"x": 1}),
                             NewOutboxItem("push:2:s:t", "push", {"x": 2})]) == 1
    first = store.outbox.claim("push")
    second = store.outbox.claim("push")
    assert len(first) == 2 and second == []
    store.outbox.done(first[0].id, {"ok": True})
    assert [i.status for i in store.outbox.items("push")] == ["sent", "sending"]


def test_unreachable_database_is_one_clear_store_error_without_password():
    from bridge.errors import StoreError

    with pytest.raises(StoreError) as err:
        Store("postgresql://bridge:hunter2@127.0.0.1:1/nowhere")
    assert "cannot migrate" in str(err.value) and "hunter2" not in str(err.value)


def test_processes_starting_together_migrate_once(db_url):
    """Several machines start at once on a new database: one migrates, the others wait."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store(db_url), range(4)))
    assert {current_revision(s.engine) for s in stores} == {head_revision()}


def test_a_full_status_list_refuses_the_award_whole(db_url, monkeypatch):
    from bridge.errors import CapacityError
    from bridge.store import awards

    monkeypatch.setattr(awards, "STATUS_LIST_BITS", 4)  # collisions at nearly every draw
    store = Store(db_url)
    store.facts.ingest(store.runs.begin(["m"]), _batch(5))
    store.awards.publish_badge("b1", "v1", {"name": {"fr": "B"}}, b"png", "image/png")
    ids = sorted(store.facts.learner_ids())

    def award(n: int) -> NewAward:
        return NewAward(id=f"a-{n}", learner_id=ids[n], badge_id="b1", period="1",
                        issued_at=datetime.now(UTC), salt="s", recipient_email=f"learner{n}@example.org",
                        recipient_name=None, lang="fr", rule_version="v1", provenance=[])

    written = [store.awards.create(award(n), [NewOutboxItem(f"email:a-{n}", "email", {})]) for n in range(4)]
    assert sorted(a.status_slot.list_index for a in written) == [0, 1, 2, 3]
    with pytest.raises(CapacityError, match="status list is full"):
        store.awards.create(award(4), [NewOutboxItem("email:a-4", "email", {})])
    assert store.awards.get("a-4") is None and len(store.outbox.items()) == 4


def test_a_platform_learner_who_gains_an_email_joins_the_sheets_learner(db_url):
    """An Open edX learner first known without an address, then a sign-in sheet with it, then
    the platform's address: one person, their facts from both sources together."""
    store = Store(db_url)
    run = store.runs.begin(["lms", "sheet"])
    fact = Fact(source="lms", external_id="camille_l", kind=FactKind.grade, course="c", value=0.9)
    store.facts.ingest(run, Batch(identities=[Identity(source="lms", external_id="camille_l")], facts=[fact]))
    store.facts.ingest(run, Batch(identities=[Identity(source="sheet", external_id="camille@ac-nice.fr",
                                                 email="camille@ac-nice.fr")],
                            facts=[Fact(source="sheet", external_id="camille@ac-nice.fr",
                                        kind=FactKind.presence, course="", item="s1", value=1.0)]))
    assert store.counts()["learners"] == 2
    store.facts.ingest(run, Batch(identities=[Identity(source="lms", external_id="camille_l",
                                                 email="Camille@ac-nice.fr")]))
    person = store.facts.learner_by_email("camille@ac-nice.fr")
    facts = store.facts.of_learners([person.id])[person.id]
    assert {(f.source, f.kind) for f in facts} == {("lms", FactKind.grade), ("sheet", FactKind.presence)}
    assert person.id in store.facts.to_evaluate.pending().values()  # evaluated with both
    store.facts.ingest(run, Batch(identities=[Identity(source="lms", external_id="dora_l")]))
    store.facts.ingest(run, Batch(identities=[Identity(source="lms", external_id="dora_l",
                                                 email="dora@example.org")]))
    assert store.facts.learner_by_email("dora@example.org") is not None  # nobody held it: adopted
