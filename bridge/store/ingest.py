"""Writing what connectors pulled: identities → learners, facts, watermarks, in one transaction.

Facts upsert on their natural key; only new or changed rows are written, counted and queued.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from bridge.errors import SourceError
from bridge.model import Batch, Fact, FactKind, Identity
from bridge.store import erasure_key
from bridge.store.bulk import insert_rows
from bridge.store.clean import clean_batch, learner_ref
from bridge.store.schema import (
    erasures,
    facts,
    identities,
    learners,
    pending_evaluations,
    pending_pushes,
    watermarks,
)

__all__ = ["IngestResult", "apply_batch", "upsert", "upsert_watermark", "chunks"]

_CHUNK = 500
_FACT_COLUMNS = ("learner_id", "source", "kind", "course", "item", "value", "status", "occurred_at",
                 "attrs", "first_run", "changed_run")
_IDENTITY_COLUMNS = ("learner_id", "source", "external_id", "username", "email", "fullname", "lang")
T = TypeVar("T")


@dataclass
class IngestResult:
    new_facts: int = 0
    changed_facts: int = 0
    new_learners: int = 0
    unresolved: int = 0  # identities without an email
    erased_skipped: int = 0  # identities of erased learners, left out
    refused: list[SourceError] = field(default_factory=list)  # records left out (store.clean)
    touched: set[int] = field(default_factory=set)  # learners whose facts changed: to evaluate
    # learners with a new or changed presence, or a new identity: their presences may be pushed
    to_push: set[int] = field(default_factory=set)
    created: set[int] = field(default_factory=set)  # learners new in this batch: no facts yet

    def merge(self, other: IngestResult) -> None:
        self.new_facts += other.new_facts
        self.changed_facts += other.changed_facts
        self.new_learners += other.new_learners
        self.unresolved += other.unresolved
        self.erased_skipped += other.erased_skipped
        self.refused += other.refused
        self.touched |= other.touched
        self.to_push |= other.to_push


def chunks(items: Sequence[T], n: int = _CHUNK) -> Iterator[Sequence[T]]:
    """`items` n at a time: a statement's parameters stay within every database's limits."""
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _resolve_identities(conn: Connection, batch_ids: list[Identity], now: datetime,
                        result: IngestResult) -> dict[tuple[str, str], int]:
    """(source, external_id) -> learner id, creating learners and identities as needed."""
    known: dict[tuple[str, str], int] = {}
    by_source: dict[str, list[Identity]] = {}
    for ident in batch_ids:
        by_source.setdefault(ident.source, []).append(ident)
    for source, idents in by_source.items():
        for chunk in chunks(idents):
            rows = conn.execute(
                select(identities.c.external_id, identities.c.learner_id, identities.c.email,
                       identities.c.username, identities.c.fullname, identities.c.lang)
                .where(identities.c.source == source,
                       identities.c.external_id.in_([i.external_id for i in chunk]))).all()
            existing = {r.external_id: r for r in rows}
            for ident in chunk:
                row = existing.get(ident.external_id)
                if row is None:
                    continue
                known[(source, ident.external_id)] = row.learner_id
                fresh = {k: getattr(ident, k) for k in ("email", "username", "fullname", "lang")
                         if getattr(ident, k) is not None and getattr(ident, k) != getattr(row, k)}
                if fresh:
                    conn.execute(update(identities).where(
                        identities.c.source == source,
                        identities.c.external_id == ident.external_id).values(**fresh))
                    _fill_learner(conn, row.learner_id, ident)
                    if "email" in fresh:
                        lid = _adopt_email(conn, row.learner_id, ident)
                        if lid != row.learner_id:
                            known[(source, ident.external_id)] = lid
                            result.touched.add(lid)  # facts joined: evaluate them together
                            result.to_push.add(lid)  # and their presences may now be pushed
    missing = [i for i in batch_ids if (i.source, i.external_id) not in known]
    if not missing:
        return known
    emails = sorted({i.email for i in missing if i.email})
    by_email: dict[str, int] = {}
    for some in chunks(emails):
        for r in conn.execute(select(learners.c.id, learners.c.email).where(learners.c.email.in_(some))):
            by_email[r.email] = r.id
    # New learners in one statement (RETURNING keeps the parameter order), then identities.
    unique: list[Identity] = []
    pending: set[str] = set()  # emails of learners about to be created in this batch
    for ident in missing:
        if ident.email and ident.email in by_email:
            _fill_learner(conn, by_email[ident.email], ident)
        elif not ident.email or ident.email not in pending:
            unique.append(ident)
            if ident.email:
                pending.add(ident.email)
    new_people: dict[tuple[str, str], int] = {}
    if unique:
        ids = conn.execute(
            insert(learners).returning(learners.c.id, sort_by_parameter_order=True),
            [dict(email=i.email, fullname=i.fullname, lang=i.lang, created_at=now) for i in unique],
        ).scalars().all()
        result.new_learners += len(unique)
        result.created.update(ids)
        result.unresolved += sum(1 for i in unique if not i.email)
        for ident, lid in zip(unique, ids, strict=True):
            if ident.email:
                by_email[ident.email] = lid
            else:
                new_people[(ident.source, ident.external_id)] = lid
    new_identities: list[tuple[Any, ...]] = []
    for ident in missing:
        lid = by_email[ident.email] if ident.email else new_people[(ident.source, ident.external_id)]
        if (ident.source, ident.external_id) in known:
            continue  # the same identity twice in one batch
        known[(ident.source, ident.external_id)] = lid
        new_identities.append((lid, ident.source, ident.external_id, ident.username, ident.email,
                               ident.fullname, ident.lang))
    if new_identities:
        insert_rows(conn, identities, _IDENTITY_COLUMNS, new_identities)
        # a presence that waited for its learner to be known on the receiving source
        result.to_push.update(i[0] for i in new_identities)
    return known


def _adopt_email(conn: Connection, learner_id: int, ident: Identity) -> int:
    """An identity known without an email now has one: its learner takes the address, or, if
    another learner already holds it (a sign-in sheet's), the identity and its facts move to
    that learner, so one person is never two. Returns the identity's learner id."""
    email = ident.email
    current = conn.execute(select(learners.c.email).where(learners.c.id == learner_id)).scalar_one()
    if current is not None or email is None:
        return learner_id
    holder = conn.execute(select(learners.c.id).where(learners.c.email == email)).scalar_one_or_none()
    if holder is None:
        conn.execute(update(learners).where(learners.c.id == learner_id).values(email=email))
        return learner_id
    if conn.execute(select(identities.c.id).where(identities.c.learner_id == holder,
                                                  identities.c.source == ident.source)).first():
        return learner_id  # two accounts on one platform with one address: left apart
    for table in (identities, facts):
        conn.execute(update(table).where(table.c.learner_id == learner_id,
                                         table.c.source == ident.source).values(learner_id=holder))
    return holder


def _fill_learner(conn: Connection, learner_id: int, ident: Identity) -> None:
    """Fill a learner's empty name/language from a source; never overwrite what is there."""
    for col in ("fullname", "lang"):
        value = getattr(ident, col)
        if value:
            conn.execute(update(learners).where(learners.c.id == learner_id,
                                                learners.c[col].is_(None)).values({col: value}))


def _lookup_missing_identities(conn: Connection, wanted: set[tuple[str, str]],
                               known: dict[tuple[str, str], int]) -> None:
    by_source: dict[str, list[str]] = {}
    for source, ext in wanted - known.keys():
        by_source.setdefault(source, []).append(ext)
    for source, exts in by_source.items():
        for chunk in chunks(exts):
            for r in conn.execute(select(identities.c.external_id, identities.c.learner_id).where(
                    identities.c.source == source, identities.c.external_id.in_(chunk))):
                known[(source, r.external_id)] = r.learner_id


def _same(row: Any, fact: Fact) -> bool:
    occurred = row.occurred_at
    if occurred is not None and occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return (row.value == fact.value and row.status == fact.status
            and occurred == fact.occurred_at and (row.attrs or {}) == fact.attrs)


def _erased(conn: Connection, idents: list[Identity]) -> set[tuple[str, str]]:
    """The identities of the batch whose address was erased (bridge.store.erasure_key)."""
    with_email = [i for i in idents if i.email]
    if not with_email:
        return set()
    key = erasure_key.key_of(conn).get()
    if key is None:  # fails only if keyed rows exist and the key is gone
        erasure_key.candidates(conn, "")
    by_hash: dict[str, tuple[str, str]] = {}
    for i in with_email:
        assert i.email is not None
        digest = erasure_key.legacy_digest(i.email)
        by_hash[digest] = (i.source, i.external_id)
        if key is not None:
            by_hash[erasure_key.keyed(digest, key)] = (i.source, i.external_id)
    found: set[tuple[str, str]] = set()
    keys = list(by_hash)
    for chunk in chunks(keys):
        for h in conn.execute(select(erasures.c.email_hash).where(erasures.c.email_hash.in_(chunk))).scalars():
            found.add(by_hash[h])
    return found


def apply_batch(conn: Connection, batch: Batch, run_id: int, now: datetime | None = None) -> IngestResult:
    """Upsert the batch's identities, facts and watermarks (the caller holds the transaction).

    Identities of erased learners, and their facts, are left out.
    """
    now = now or datetime.now(UTC)
    result = IngestResult()
    batch, result.refused = clean_batch(batch)
    erased = _erased(conn, list(batch.identities))
    result.erased_skipped = len(erased)
    known = _resolve_identities(conn, [i for i in batch.identities
                                       if (i.source, i.external_id) not in erased], now, result)
    _lookup_missing_identities(conn, {(f.source, f.external_id) for f in batch.facts} - erased, known)
    rows: list[tuple[int, Fact]] = []
    for fact in batch.facts:
        if (fact.source, fact.external_id) in erased:
            continue
        lid = known.get((fact.source, fact.external_id))
        if lid is None:  # its identity was refused, or never sent: this fact alone is left out
            if not any(r.field in ("source", "external_id") for r in result.refused):
                result.refused.append(SourceError(
                    f"fact for unknown identity {learner_ref(fact.external_id)!r}; a connector must send "
                    "the identity before or with its facts", source=fact.source, endpoint="ingest",
                    field="external_id", code="unknown_identity"))
            continue
        rows.append((lid, fact))
    for chunk in chunks(rows):
        kinds = [f.kind.value for _, f in chunk]  # an enum member's value costs a descriptor call
        keys = [(lid, f.source, kind, f.course, f.item) for (lid, f), kind in zip(chunk, kinds, strict=True)]
        wanted = set(keys)
        # By learner (indexed), then matched here: a row-value IN over the natural key is not
        # served by the index on SQLite and would scan the whole table for every batch.
        stored = sorted({lid for lid, _ in chunk} - result.created)
        existing = {} if not stored else {
            key: r
            for r in conn.execute(select(facts).where(
                facts.c.learner_id.in_(stored),
                facts.c.source.in_(sorted({f.source for _, f in chunk})),
                # only the kinds and courses of the batch: a learner's other facts (other
                # courses, other kinds) are neither read nor decoded
                facts.c.kind.in_(sorted(set(kinds))),
                facts.c.course.in_(sorted({f.course for _, f in chunk}))))
            if (key := (r.learner_id, r.source, r.kind, r.course, r.item)) in wanted
        }
        new_rows = []
        new_keys: set[tuple[int, str, str, str, str]] = set()
        for key, (lid, fact) in zip(keys, chunk, strict=True):
            if key in new_keys:  # a duplicate inside one batch counts once
                continue
            row = existing.get(key)
            if row is None:
                new_rows.append((lid, fact.source, key[2], fact.course, fact.item, fact.value,
                                 fact.status, fact.occurred_at, fact.attrs, run_id, run_id))
                new_keys.add(key)
            elif not _same(row, fact):
                conn.execute(update(facts).where(facts.c.id == row.id).values(
                    value=fact.value, status=fact.status, occurred_at=fact.occurred_at,
                    attrs=fact.attrs, changed_run=run_id))
                result.changed_facts += 1
            else:
                continue
            result.touched.add(lid)
            if fact.kind is FactKind.presence:
                result.to_push.add(lid)
        if new_rows:
            insert_rows(conn, facts, _FACT_COLUMNS, new_rows)
            result.new_facts += len(new_rows)
    _upsert_watermarks(conn, batch, now)
    for queue, learner_ids in ((pending_evaluations, result.touched), (pending_pushes, result.to_push)):
        if learner_ids:
            insert_rows(conn, queue, ("learner_id", "created_at"),
                        [(lid, now) for lid in sorted(learner_ids)])
    return result


def _upsert_watermarks(conn: Connection, batch: Batch, now: datetime) -> None:
    latest = {(w.source, w.course, w.stream): w.value for w in batch.watermarks}
    by_course: dict[tuple[str, str], list[tuple[tuple[str, str, str], str]]] = {}
    for key, value in latest.items():
        by_course.setdefault(key[:2], []).append((key, value))
    for (source, course), items in by_course.items():
        _upsert_course_watermarks(conn, source, course, items, now)


def _upsert_course_watermarks(conn: Connection, source: str, course: str,
                              items: list[tuple[tuple[str, str, str], str]], now: datetime) -> None:
    """One course's streams: looked up by (source, course) and stream names, which the
    primary key serves, rather than by a row-value IN over the three columns."""
    for chunk in chunks(items):
        stored = {(source, course, r.stream): r.value for r in conn.execute(
            select(watermarks.c.stream, watermarks.c.value).where(
                watermarks.c.source == source, watermarks.c.course == course,
                watermarks.c.stream.in_([k[2] for k, _ in chunk])))}
        changed = [dict(s_=k[0], c_=k[1], t_=k[2], value=v, updated_at=now)
                   for k, v in chunk if k in stored and stored[k] != v]
        if changed:
            conn.execute(update(watermarks).where(
                watermarks.c.source == bindparam("s_"), watermarks.c.course == bindparam("c_"),
                watermarks.c.stream == bindparam("t_")), changed)
        new = [(*k, v, now) for k, v in chunk if k not in stored]
        if new:
            insert_rows(conn, watermarks, ("source", "course", "stream", "value", "updated_at"), new)


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE: safe when two workers write the same row at once."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=keys, set_={k: stmt.excluded[k] for k in values if k not in keys}))


def upsert_watermark(conn: Connection, source: str, course: str, stream: str, value: str,
                     now: datetime) -> None:
    upsert(conn, watermarks, dict(source=source, course=course, stream=stream, value=value,
                                  updated_at=now), ["source", "course", "stream"])
