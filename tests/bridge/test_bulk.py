"""The store's bulk write path (bridge/store/bulk.py) against SQLAlchemy's own INSERT, and the
ingest's already-clean shortcuts against their full definitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bridge.model import Fact, FactKind
from bridge.store import NewAward, NewOutboxItem, Store
from bridge.store.bulk import insert_rows, select_in
from bridge.store.clean import _fact, clean_text
from bridge.store.schema import facts, learners

_COLUMNS = ("learner_id", "source", "kind", "course", "item", "value", "status", "occurred_at",
            "attrs", "first_run", "changed_run")


def _rows(learner: int, source: str) -> list[tuple[object, ...]]:
    at = datetime(2026, 3, 1, 9, 30, 15, 250, tzinfo=UTC)
    docs = [{"a": 1}, {"a": True}, {"a": 1.0}, {"a": "1"}, {"a": None}, {}, {"a": ["x", 2]},
            {"a": "b"}, {"a": "b"}, {"é": "Zoé \u2028"}, {"n": -0.0}]
    return [(learner, source, "grade", "42", f"i{n:02d}", n / 3 if n % 2 else None, "", at + timedelta(n % 2),
             doc, 1, 1) for n, doc in enumerate(docs)]


def test_rows_written_in_bulk_read_back_as_sqlalchemys_insert_writes_them(db_url):
    store = Store(db_url)
    with store.engine.begin() as conn:
        learner = conn.execute(insert(learners).returning(learners.c.id),
                               [{"email": "a@example.org", "created_at": datetime.now(UTC)}]).scalar_one()
        conn.execute(insert(facts), [dict(zip(_COLUMNS, r, strict=True)) for r in _rows(learner, "core")])
        insert_rows(conn, facts, _COLUMNS, _rows(learner, "bulk"))

    def read(source: str) -> list[tuple[object, ...]]:
        with store.engine.connect() as conn:
            return [tuple(r)[2:] for r in conn.execute(
                select(facts.c.learner_id, facts.c.source, *(facts.c[c] for c in _COLUMNS[2:]))
                .where(facts.c.source == source).order_by(facts.c.item))]
    assert read("bulk") == read("core") and len(read("bulk")) == 11
    # the document's own types come back: 1, True and 1.0 are three documents, not one
    assert [r[6] for r in read("bulk")][:4] == [{"a": 1}, {"a": True}, {"a": 1.0}, {"a": "1"}]
    assert [type(r[6]["a"]) for r in read("bulk")[:3]] == [int, bool, float]
    with store.engine.connect() as conn:
        got = select_in(conn, "SELECT item FROM facts WHERE source = 'bulk' AND {}", (), "item",
                        ["i01", "i03", "nope"])
    assert sorted(r[0] for r in got) == ["i01", "i03"]


def test_a_duplicate_in_bulk_is_sqlalchemys_integrity_error_and_rolls_back_whole(db_url):
    store = Store(db_url)
    with store.engine.begin() as conn:
        learner = conn.execute(insert(learners).returning(learners.c.id),
                               [{"email": "a@example.org", "created_at": datetime.now(UTC)}]).scalar_one()
    rows = _rows(learner, "m")
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        insert_rows(conn, facts, _COLUMNS, rows[:3])
        insert_rows(conn, facts, _COLUMNS, rows[2:4])  # i2 again: the natural key
    with store.engine.connect() as conn:
        assert conn.execute(select(facts.c.id)).first() is None


def test_awards_written_in_a_batch_read_back_as_the_batch_returned_them(db_url):
    store = Store(db_url)
    from bridge.model import Batch, Identity

    store.facts.ingest(store.runs.begin(["m"]), Batch(identities=[
        Identity(source="m", external_id=str(i), email=f"l{i}@example.org") for i in range(3)]))
    store.awards.publish_badge("b1", "v1", {"name": {"fr": "B"}}, b"png", "image/png")
    ids = sorted(store.facts.learner_ids())
    issued = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    batch = [(NewAward(id=f"a-{n}", learner_id=lid, badge_id="b1", period="2026", issued_at=issued,
                       salt=f"s{n}", recipient_email=f"l{n}@example.org", recipient_name="Zoé",
                       lang="fr", rule_version="v1",
                       provenance=[{"kind": "presence", "value": 1, "ok": True, "at": None}],
                       expires_at=issued + timedelta(days=365) if n else None, run_id=7,
                       message_id=f"<award-a-{n}@example.org>"),
              [NewOutboxItem(f"email:a-{n}", "email", {"award_id": f"a-{n}", "kind": "award"})])
             for n, lid in enumerate(ids)]
    written = store.awards.create_many(batch)
    assert all(written)
    for award in written:
        assert award is not None and store.awards.get(award.id) == award
    items = sorted(store.outbox.items(), key=lambda i: i.key)
    assert [(i.key, i.award_id, i.learner_id, i.payload, i.status, i.attempts) for i in items] == [
        (f"email:a-{n}", f"a-{n}", lid, {"award_id": f"a-{n}", "kind": "award"}, "pending", 0)
        for n, lid in enumerate(ids)]
    assert len({a.status_slot for a in written if a}) == 3


_TEXT = st.text(alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\x00", "\x85", "\xa0",
                                          "\u2028", "\u3000", "\u200b", "\x7f", "\U0001f600"]),
                max_size=8)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@given(_TEXT, st.sampled_from([None, 3, 100]))
def test_clean_text_is_its_definition(text, limit):
    whole = " ".join(_CONTROL.sub(" ", text).split())
    assert clean_text(text, limit) == (whole[:limit] if limit else whole)


@given(_TEXT, _TEXT, _TEXT)
def test_a_fact_kept_as_sent_is_exactly_the_clean_one(status, key, value):
    fact = Fact(source="m", external_id="1", kind=FactKind.grade, course="42", status=status,
                attrs={key: value, "n": 1})
    kept = _fact(fact, [])
    assert kept is not None
    assert kept.status == clean_text(status, 100)
    assert kept.attrs == {clean_text(key, 100): clean_text(value, 2000), "n": 1}
