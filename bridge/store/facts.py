"""What the platforms told us: learners, their identities and facts, the sources' watermarks,
and the queues of learners whose facts changed (to evaluate, to push back)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, Table, and_, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bridge.errors import StoreError
from bridge.model import Batch, Fact, FactKind, Identity
from bridge.redact import db_error
from bridge.store.ingest import IngestResult, apply_batch, chunks, upsert_watermark
from bridge.store.rows import Learner, Presence, aware
from bridge.store.schema import (
    facts,
    identities,
    learners,
    pending_evaluations,
    pending_pushes,
    watermarks,
)

__all__ = ["Facts", "LearnerQueue"]


@dataclass
class LearnerQueue:
    """Learners waiting for a step. A queue rather than a watermark: a run committing its facts
    late, while another run works through the queue, is still seen."""

    engine: Engine
    table: Table

    def pending(self) -> dict[int, int]:
        """Queue row id -> learner id."""
        with self.engine.connect() as conn:
            return {r.id: r.learner_id for r in conn.execute(
                select(self.table.c.id, self.table.c.learner_id))}

    def last(self) -> int | None:
        """The newest queue row's id (None: the queue is empty): a pass over the queue takes
        the rows up to it, and leaves those queued meanwhile for the next pass."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(self.table.c.id))).scalar_one_or_none()

    def learners_after(self, after: int, limit: int, upto: int) -> list[int]:
        """The next `limit` queued learners by id after `after`, among the rows up to `upto`."""
        with self.engine.connect() as conn:
            return list(conn.execute(
                select(self.table.c.learner_id).distinct()
                .where(self.table.c.learner_id > after, self.table.c.id <= upto)
                .order_by(self.table.c.learner_id).limit(limit)).scalars())

    def rows_between(self, after: int, until: int | None, upto: int) -> list[tuple[int, int]]:
        """(row id, learner id) of the rows up to `upto` whose learner id is in (after, until]
        (until None: no upper bound)."""
        query = select(self.table.c.id, self.table.c.learner_id).where(
            self.table.c.learner_id > after, self.table.c.id <= upto)
        if until is not None:
            query = query.where(self.table.c.learner_id <= until)
        with self.engine.connect() as conn:
            return [(r.id, r.learner_id) for r in conn.execute(query)]

    def clear(self, row_ids: Iterable[int]) -> None:
        """Remove exactly the rows that were handled; rows added meanwhile stay queued."""
        with self.engine.begin() as conn:
            for chunk in chunks(sorted(row_ids)):
                conn.execute(delete(self.table).where(self.table.c.id.in_(chunk)))


@dataclass
class Facts:
    engine: Engine
    to_evaluate: LearnerQueue = field(init=False)
    to_push: LearnerQueue = field(init=False)

    def __post_init__(self) -> None:
        self.to_evaluate = LearnerQueue(self.engine, pending_evaluations)
        self.to_push = LearnerQueue(self.engine, pending_pushes)

    # -- writing --------------------------------------------------------------
    def ingest(self, run_id: int, batch: Batch) -> IngestResult:
        """Identities, facts and watermarks of one batch, in one transaction.

        Two workers ingesting the same new rows at once: the loser's transaction hits a unique
        key, rolls back whole, and is replayed; it then finds the rows and changes nothing.
        """
        for _ in range(5):
            try:
                with self.engine.begin() as conn:
                    return apply_batch(conn, batch, run_id)
            except IntegrityError as exc:
                last = exc
            except SQLAlchemyError as exc:  # described without the rows it quotes
                raise StoreError(f"the batch could not be written: {db_error(exc)}") from None
        raise StoreError(f"a batch kept colliding with concurrent writes: {db_error(last)}")

    def set_watermark(self, source: str, course: str, stream: str, value: str) -> None:
        with self.engine.begin() as conn:
            upsert_watermark(conn, source, course, stream, value, datetime.now(UTC))

    # -- what a connector sees -------------------------------------------------
    def watermark(self, source: str, course: str, stream: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(watermarks.c.value).where(
                watermarks.c.source == source, watermarks.c.course == course,
                watermarks.c.stream == stream)).scalar_one_or_none()

    def watermarks(self, source: str, course: str, prefix: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.stream: r.value for r in conn.execute(
                select(watermarks.c.stream, watermarks.c.value).where(
                    watermarks.c.source == source, watermarks.c.course == course,
                    watermarks.c.stream.startswith(prefix, autoescape=True)))}

    def holding(self, source: str, course: str, kind: FactKind, item: str = "",
                value: float = 1.0) -> set[str]:
        """External ids of a source's learners holding a fact with this value (e.g. completed)."""
        with self.engine.connect() as conn:
            return set(conn.execute(
                select(identities.c.external_id)
                .join(facts, and_(facts.c.learner_id == identities.c.learner_id,
                                  facts.c.source == identities.c.source))
                .where(identities.c.source == source, facts.c.course == course,
                       facts.c.kind == kind.value, facts.c.item == item,
                       facts.c.value == value)).scalars())

    def identities(self, source: str) -> dict[str, Identity]:
        """External id -> the identity stored for one source."""
        return {i.external_id: i for i in self._identities(source).values()}

    def identities_by_external(self, source: str, external_ids: Iterable[str]) -> dict[str, Identity]:
        """External id -> identity, for those of these ids the source has stored."""
        out: dict[str, Identity] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(external_ids))):
                for r in conn.execute(select(identities).where(
                        identities.c.source == source, identities.c.external_id.in_(chunk))):
                    out[r.external_id] = Identity(r.source, r.external_id, r.username, r.email,
                                                  r.fullname, r.lang)
        return out

    def without_email(self, source: str) -> int:
        """How many of a source's identities have no email (cannot be matched or awarded)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(identities).where(
                identities.c.source == source, identities.c.email.is_(None))).scalar_one())

    def identities_of(self, source: str, learner_ids: Iterable[int]) -> dict[int, Identity]:
        """Learner id -> their identity on one source, for those who have one."""
        return self._identities(source, learner_ids)

    def _identities(self, source: str, learner_ids: Iterable[int] | None = None) -> dict[int, Identity]:
        query = select(identities).where(identities.c.source == source)
        with self.engine.connect() as conn:
            return {r.learner_id: Identity(r.source, r.external_id, r.username, r.email, r.fullname,
                                           r.lang)
                    for q in _of(query, identities.c.learner_id, learner_ids) for r in conn.execute(q)}

    # -- what evaluation and pushes read ---------------------------------------
    def learner_ids(self) -> set[int]:
        """Every learner not erased."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(learners.c.id).where(learners.c.erased_at.is_(None))).scalars())

    def learner_ids_after(self, after: int, limit: int) -> list[int]:
        """The next `limit` learners not erased, by id after `after` (everyone, a page at a time)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(learners.c.id).where(
                learners.c.erased_at.is_(None), learners.c.id > after)
                .order_by(learners.c.id).limit(limit)).scalars())

    def of_learners(self, learner_ids: Iterable[int]) -> dict[int, list[Fact]]:
        """Each learner's facts, from every source."""
        out: dict[int, list[Fact]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(learner_ids)):
                rows = conn.execute(select(facts, identities.c.external_id)
                                    .join(identities, and_(identities.c.learner_id == facts.c.learner_id,
                                                           identities.c.source == facts.c.source))
                                    .where(facts.c.learner_id.in_(chunk)))
                for r in rows:
                    out.setdefault(r.learner_id, []).append(Fact(
                        source=r.source, external_id=r.external_id, kind=FactKind(r.kind),
                        course=r.course, item=r.item, value=r.value, status=r.status,
                        occurred_at=aware(r.occurred_at), attrs=r.attrs or {}))
        return out

    def presences(self, source: str, learner_ids: Iterable[int] | None = None) -> list[Presence]:
        """Presences (value 1) at a source's sessions: of these learners, or of everyone."""
        query = select(facts.c.learner_id, facts.c.item, facts.c.attrs).where(
            facts.c.source == source, facts.c.kind == FactKind.presence.value, facts.c.value == 1.0)
        with self.engine.connect() as conn:
            return [Presence(r.learner_id, source, r.item, (r.attrs or {}).get("tags"))
                    for q in _of(query, facts.c.learner_id, learner_ids)
                    for r in conn.execute(q.order_by(facts.c.id))]

    def learners(self, learner_ids: Iterable[int]) -> dict[int, Learner]:
        out: dict[int, Learner] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(learner_ids)):
                for r in conn.execute(select(learners).where(learners.c.id.in_(chunk))):
                    out[r.id] = _learner(r)
        return out

    def learner_by_email(self, email: str) -> Learner | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(learners).where(learners.c.email == email.strip().lower())).first()
            return _learner(r) if r else None


def _of(query: Select[Any], column: ColumnElement[int],
        learner_ids: Iterable[int] | None) -> list[Select[Any]]:
    """The query for everyone, or for these learners (a chunk at a time)."""
    if learner_ids is None:
        return [query]
    return [query.where(column.in_(chunk)) for chunk in chunks(sorted(learner_ids))]


def _learner(r: Any) -> Learner:
    return Learner(r.id, r.email, r.fullname, r.lang, aware(r.created_at), aware(r.erased_at))
