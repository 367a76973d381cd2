"""Badges and awards: the snapshots of badge definitions, the awards with their outbox items,
revocation, and each award's bit in the OB 3.0 status list (allocated when it is written)."""

from __future__ import annotations

import secrets
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bridge.errors import CapacityError, StoreError
from bridge.store.bulk import insert_rows, select_in
from bridge.store.ingest import chunks, upsert
from bridge.store.rows import Award, Badge, ListedAward, NewAward, NewOutboxItem, StatusSlot, aware
from bridge.store.schema import awards, badges, learners, ob3_status, outbox, rule_versions

__all__ = ["Awards", "STATUS_LIST_BITS", "STATUS_LIST_ID"]

# 16 KiB: the minimum size the spec asks for, so that one bit says little about one learner.
STATUS_LIST_BITS = 131072
STATUS_LIST_ID = 1
_DRAWS = 32  # random positions tried before counting whether the list is full
# driver SQL (bridge.store.bulk.select_in): the IN list of a batch is one parameter a value
_TAKEN = f"SELECT list_index FROM ob3_status WHERE list_id = {int(STATUS_LIST_ID)} AND {{}}"
_HELD = "SELECT learner_id, badge_id, period FROM awards WHERE {}"
_NEW_AWARD_FIELDS = tuple(f.name for f in fields(NewAward))
_AWARD_COLUMNS = (*_NEW_AWARD_FIELDS, "status")
_OUTBOX_COLUMNS = ("key", "channel", "award_id", "learner_id", "payload", "status", "attempts",
                   "next_attempt_at", "created_at")


def _award_query() -> Select[Any]:
    return (select(awards, ob3_status.c.list_id, ob3_status.c.list_index,
                   learners.c.hide_name, learners.c.email.label("learner_email"))
            .outerjoin(ob3_status, ob3_status.c.award_id == awards.c.id)
            .join(learners, learners.c.id == awards.c.learner_id))


# Built once: a statement made per call cost SQLAlchemy more than the look-up itself (the
# hosted assertion reads the award at each request).
_AWARD_BY_ID = _award_query().where(awards.c.id == bindparam("award_id"))


def _award(r: Any) -> Award:
    return Award(
        id=r.id, learner_id=r.learner_id, badge_id=r.badge_id, period=r.period,
        issued_at=aware(r.issued_at), salt=r.salt, recipient_email=r.recipient_email,
        recipient_name=r.recipient_name, lang=r.lang, rule_version=r.rule_version,
        provenance=list(r.provenance or []), status=r.status, expires_at=aware(r.expires_at),
        revoked_at=aware(r.revoked_at), revocation_reason=r.revocation_reason,
        previous_award_id=r.previous_award_id, run_id=r.run_id, message_id=r.message_id,
        status_slot=None if r.list_id is None else StatusSlot(r.list_id, r.list_index),
        name_hidden=bool(r.hide_name))


def _badge(r: Any) -> Badge:
    return Badge(r.id, r.version, r.definition, r.image, r.image_type, aware(r.updated_at))


def _random_slot() -> StatusSlot:
    """A random position, so that neighbouring indexes do not reveal issuing order."""
    return StatusSlot(STATUS_LIST_ID, secrets.randbelow(STATUS_LIST_BITS))


def _draw(k: int) -> list[int]:
    """`k` random positions (not necessarily distinct), in the order drawn. The list's size is a
    power of two, so the low bits of 32 random bits are uniform (one read of the system's
    random source for all of them rather than one a position)."""
    bits = STATUS_LIST_BITS
    if bits & (bits - 1):
        return [secrets.randbelow(bits) for _ in range(k)]
    words = array("I")
    words.frombytes(secrets.token_bytes(words.itemsize * k))
    return [v & (bits - 1) for v in words]


def _free_slots(conn: Connection, n: int) -> list[StatusSlot]:
    """`n` distinct random positions known to be free (drawn together, the taken ones asked in
    one query); CapacityError when too few are. In the order drawn: random, so neighbouring
    indexes say nothing of issuing order."""
    chosen: dict[int, None] = {}
    for _ in range(_DRAWS):
        if len(chosen) >= n:
            break
        drawn = [i for i in dict.fromkeys(_draw(n - len(chosen))) if i not in chosen]
        used = {r[0] for chunk in chunks(sorted(drawn)) for r in select_in(
            conn, _TAKEN, (), "list_index", chunk)}
        chosen.update((i, None) for i in drawn if i not in used)
    if len(chosen) < n:  # the list is nearly full: positions checked free one by one
        chosen.update((i, None) for i in dict.fromkeys(
            _free_slot(conn).list_index for _ in range(n - len(chosen))))
    if len(chosen) < n:
        raise CapacityError(f"the OB 3.0 status list is full ({STATUS_LIST_BITS} awards)")
    return [StatusSlot(STATUS_LIST_ID, i) for i in list(chosen)[:n]]


def _free_slot(conn: Connection) -> StatusSlot:
    """A random position known to be free; CapacityError when none is."""
    taken = select(ob3_status.c.award_id).where(ob3_status.c.list_id == STATUS_LIST_ID)
    for _ in range(_DRAWS):
        slot = _random_slot()
        if conn.execute(taken.where(ob3_status.c.list_index == slot.list_index)).first() is None:
            return slot
    used = conn.execute(select(func.count()).select_from(ob3_status)).scalar_one()
    if used >= STATUS_LIST_BITS:
        raise CapacityError(f"the OB 3.0 status list is full ({STATUS_LIST_BITS} awards)")
    free = sorted(set(range(STATUS_LIST_BITS)) - set(conn.execute(
        select(ob3_status.c.list_index).where(ob3_status.c.list_id == STATUS_LIST_ID)).scalars()))
    return StatusSlot(STATUS_LIST_ID, free[secrets.randbelow(len(free))])


@dataclass
class Awards:
    engine: Engine

    # -- badges ---------------------------------------------------------------
    def publish_badge(self, badge_id: str, version: str, definition: dict[str, Any],
                      image: bytes | None, image_type: str | None) -> None:
        with self.engine.begin() as conn:
            upsert(conn, badges, dict(id=badge_id, version=version, definition=definition, image=image,
                                      image_type=image_type, updated_at=datetime.now(UTC)), ["id"])
            # Each version once, when first published: the console's history of the rule.
            known = conn.execute(select(rule_versions.c.version).where(
                rule_versions.c.badge_id == badge_id, rule_versions.c.version == version)).first()
            if known is None:
                upsert(conn, rule_versions, dict(badge_id=badge_id, version=version,
                                                 first_seen_at=datetime.now(UTC), definition=definition),
                       ["badge_id", "version"])

    def badge(self, badge_id: str) -> Badge | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(badges).where(badges.c.id == badge_id)).first()
        return _badge(r) if r else None

    def badge_published(self, badge_id: str) -> bool:
        """Whether the badge is published (its row only, not its image)."""
        with self.engine.connect() as conn:
            return conn.execute(select(badges.c.id).where(badges.c.id == badge_id)).first() is not None

    def badges(self) -> list[Badge]:
        """Every published badge, by id."""
        with self.engine.connect() as conn:
            return [_badge(r) for r in conn.execute(select(badges).order_by(badges.c.id))]

    # -- awards ---------------------------------------------------------------
    def create(self, award: NewAward, items: Sequence[NewOutboxItem] = ()) -> Award | None:
        """Write the award, its status-list slot and its outbox items in one transaction.

        None if the learner already has this badge for this period (nothing is written then).
        """
        now = datetime.now(UTC)
        columns = {f.name: getattr(award, f.name) for f in fields(award)}  # asdict would deep-copy
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(awards).values(**columns, status="issued"))
                    # A random position; after a collision, one checked free (the list may be full).
                    slot = _free_slot(conn) if attempt else _random_slot()
                    conn.execute(insert(ob3_status).values(award_id=award.id, list_id=slot.list_id,
                                                           list_index=slot.list_index))
                    for item in items:
                        conn.execute(insert(outbox).values(
                            key=item.key, channel=item.channel, award_id=award.id,
                            learner_id=award.learner_id, payload=item.payload, status="pending",
                            attempts=0, next_attempt_at=now, created_at=now))
            except IntegrityError as exc:
                if self._exists(award):
                    return None
                if attempt == 4:
                    raise StoreError(f"cannot write award {award.id}: {exc.orig}") from None
                continue  # another writer took the same slot meanwhile: draw again
            return Award(**columns, status="issued", status_slot=slot)  # name_hidden: next read
        raise AssertionError("unreachable")

    def create_many(self, batch: Sequence[tuple[NewAward, Sequence[NewOutboxItem]]]
                    ) -> list[Award | None]:
        """`create` for many awards in one transaction (a few statements, whatever their number);
        None for an award the learner already has for its period. If another writer meets this
        batch (the same award, the same status-list slot), each award is written on its own.

        The rows go to the driver as tuples (bridge.store.bulk: executemany on SQLite, COPY on
        PostgreSQL), each JSON document serialised once."""
        if not batch:
            return []
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                held = set()
                for chunk in chunks(sorted({a.learner_id for a, _ in batch})):
                    held |= {tuple(r) for r in select_in(conn, _HELD, (), "learner_id", chunk)}
                fresh: list[tuple[NewAward, Sequence[NewOutboxItem]]] = []
                for award, items in batch:
                    key = (award.learner_id, award.badge_id, award.period)
                    if key not in held:
                        held.add(key)
                        fresh.append((award, items))
                slots = _free_slots(conn, len(fresh))
                if fresh:
                    insert_rows(conn, awards, _AWARD_COLUMNS, [
                        (*(getattr(a, name) for name in _NEW_AWARD_FIELDS), "issued") for a, _ in fresh])
                    insert_rows(conn, ob3_status, ("award_id", "list_id", "list_index"), [
                        (a.id, s.list_id, s.list_index) for (a, _), s in zip(fresh, slots, strict=True)])
                    insert_rows(conn, outbox, _OUTBOX_COLUMNS, [
                        (i.key, i.channel, a.id, a.learner_id, i.payload, "pending", 0, now, now)
                        for a, items in fresh for i in items])
        except IntegrityError:
            return [self.create(a, items) for a, items in batch]
        made = {a.id: Award(**{name: getattr(a, name) for name in _NEW_AWARD_FIELDS},
                            status="issued", status_slot=s)
                for (a, _), s in zip(fresh, slots, strict=True)}
        return [made.get(a.id) for a, _ in batch]

    def _exists(self, award: NewAward) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(awards.c.id).where(
                awards.c.learner_id == award.learner_id, awards.c.badge_id == award.badge_id,
                awards.c.period == award.period)).first() is not None

    def get(self, award_id: str) -> Award | None:
        with self.engine.connect() as conn:
            r = conn.execute(_AWARD_BY_ID, {"award_id": award_id}).first()
        return _award(r) if r else None

    def get_many(self, award_ids: Iterable[str]) -> dict[str, Award]:
        """The awards of these ids that exist, by id (one query a thousand ids)."""
        out: dict[str, Award] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(award_ids))):
                for r in conn.execute(_award_query().where(awards.c.id.in_(chunk))):
                    out[r.id] = _award(r)
        return out

    def of_learners(self, learner_ids: Iterable[int]) -> dict[int, list[Award]]:
        """Each learner's awards, oldest first."""
        out: dict[int, list[Award]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(learner_ids)):
                for r in conn.execute(_award_query().where(awards.c.learner_id.in_(chunk))
                                      .order_by(awards.c.issued_at)):
                    out.setdefault(r.learner_id, []).append(_award(r))
        return out

    def listing(self, *, badge_id: str | None = None, email: str | None = None) -> list[ListedAward]:
        """Awards in issue order, with their learner's email; of one badge or one learner."""
        q = _award_query().order_by(awards.c.issued_at, awards.c.id)
        if badge_id:
            q = q.where(awards.c.badge_id == badge_id)
        if email:
            q = q.where(learners.c.email == email.strip().lower())
        with self.engine.connect() as conn:
            return [ListedAward(_award(r), r.learner_email) for r in conn.execute(q)]

    def revoked(self) -> list[Award]:
        with self.engine.connect() as conn:
            return [_award(r) for r in conn.execute(
                _award_query().where(awards.c.status == "revoked").order_by(awards.c.revoked_at))]

    def revoke(self, award_id: str, reason: str) -> bool:
        """False if the award was already revoked. A learner who received the award's email is
        told, with the reason: a `revocation:<award>` email is queued in the same transaction."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if conn.execute(update(awards).where(awards.c.id == award_id,
                                                 awards.c.status != "revoked").values(
                    status="revoked", revoked_at=now, revocation_reason=reason)).rowcount != 1:
                return False
            told = conn.execute(select(outbox.c.learner_id).where(
                outbox.c.key == f"email:{award_id}", outbox.c.status == "sent")).first()
            if told is not None:
                conn.execute(insert(outbox).values(
                    key=f"revocation:{award_id}", channel="email", award_id=award_id,
                    learner_id=told.learner_id, payload={"award_id": award_id, "kind": "revocation"},
                    status="pending", attempts=0, next_attempt_at=now, created_at=now))
            return True

    def expiring(self, until: datetime, now: datetime | None = None) -> list[Award]:
        """Valid awards that expire after `now` and by `until`, and that no later award renewed."""
        now = now or datetime.now(UTC)
        renewed = select(awards.c.previous_award_id).where(awards.c.previous_award_id.is_not(None))
        with self.engine.connect() as conn:
            return [_award(r) for r in conn.execute(
                _award_query().where(awards.c.status == "issued", awards.c.expires_at > now,
                                     awards.c.expires_at <= until, awards.c.id.not_in(renewed))
                .order_by(awards.c.expires_at))]

    def hide_name(self, learner_id: int, hidden: bool) -> None:
        """The learner's choice: their name on their badges' pages, or not."""
        with self.engine.begin() as conn:
            conn.execute(update(learners).where(learners.c.id == learner_id).values(hide_name=hidden))

    def revoked_slots(self, list_id: int = STATUS_LIST_ID) -> list[int]:
        """The set bits of a status list: the indexes of its revoked awards."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(
                select(ob3_status.c.list_index).join(awards, awards.c.id == ob3_status.c.award_id)
                .where(ob3_status.c.list_id == list_id, awards.c.status == "revoked")).scalars())
