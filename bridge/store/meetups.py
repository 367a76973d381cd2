"""Meetup sessions, their check-ins, and the check-in page's rate-limit counters.

A check-in and its presence fact are written in one transaction; what the fact says is built by
the caller (bridge.meetups.facts), the store only keeps them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bridge.errors import CapacityError, CheckInRefused, NotFound, StoreError
from bridge.model import Batch
from bridge.store import erasure_key
from bridge.store.ingest import apply_batch, chunks
from bridge.store.rows import CheckIn, MeetupSession, NewCheckIn, NewSession, SessionRoute, aware
from bridge.store.schema import (
    erasures,
    facts,
    identities,
    learners,
    meetup_checkins,
    meetup_sessions,
    meetup_throttle,
    pending_evaluations,
    pending_pushes,
)

__all__ = ["Meetups", "Refreshed", "NO_RUN"]

NO_RUN = 0  # the run id of facts written outside a run (a check-in at the web page)
_DESCRIBED = ("title", "place", "town", "starts_at", "ends_at", "tags", "course", "source")
_TARGET = ("push_to", "push_target")


def _session(r: Any) -> MeetupSession:
    return MeetupSession(
        id=r.id, source=r.source, course=r.course, title=r.title, place=r.place, town=r.town,
        starts_at=aware(r.starts_at), ends_at=aware(r.ends_at), timezone=r.timezone,
        tags=list(r.tags or []), origin=r.origin, confirm=r.confirm,
        organiser_email=r.organiser_email, push_to=r.push_to, push_target=r.push_target,
        link_generation=r.link_generation, created_at=aware(r.created_at),
        closed_at=aware(r.closed_at))


@dataclass
class Refreshed:
    """What refreshing sessions from the config or a platform did; `described` lists the
    sessions whose title, place, dates or tags changed (their presences say it again)."""

    created: int = 0
    updated: int = 0
    described: list[str] = field(default_factory=list)


@dataclass
class Meetups:
    engine: Engine

    # -- sessions -------------------------------------------------------------
    def create(self, new: NewSession, now: datetime | None = None) -> MeetupSession:
        """A new session; StoreError if its id is taken."""
        values = {f.name: getattr(new, f.name) for f in fields(new)}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(meetup_sessions).values(
                    **values, link_generation=1, created_at=now or datetime.now(UTC)))
        except IntegrityError:
            raise StoreError(f"a meetup session {new.id!r} already exists") from None
        found = self.get(new.id)
        assert found is not None
        return found

    def refresh(self, sessions: Sequence[NewSession], now: datetime | None = None) -> Refreshed:
        """Create or update sessions declared elsewhere (config, sessions file, a platform),
        keeping what lives here: the organiser link's generation and the closing time. A new
        push target queues the session's attendees for the push step."""
        now = now or datetime.now(UTC)
        for attempt in range(3):
            try:
                return self._refresh(sessions, now)
            except IntegrityError:
                # another worker inserted the same session between our read and our insert:
                # read again, it is an update (or nothing) now
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _refresh(self, sessions: Sequence[NewSession], now: datetime) -> Refreshed:
        out = Refreshed()
        with self.engine.begin() as conn:
            for new in sessions:
                values = {f.name: getattr(new, f.name) for f in fields(new)}
                row = conn.execute(select(meetup_sessions).where(meetup_sessions.c.id == new.id)).first()
                if row is None:
                    conn.execute(insert(meetup_sessions).values(**values, link_generation=1,
                                                                created_at=now))
                    out.created += 1
                    continue
                if row.origin != new.origin:
                    raise StoreError(f"meetup session {new.id!r} comes from {row.origin}, not "
                                     f"{new.origin}: give the {new.origin} session another id")
                current = _session(row)
                changed = {k: v for k, v in values.items() if getattr(current, k) != v}
                if not changed:
                    continue
                conn.execute(update(meetup_sessions).where(meetup_sessions.c.id == new.id)
                             .values(**changed))
                out.updated += 1
                if set(changed) & set(_DESCRIBED):
                    out.described.append(new.id)
                if set(changed) & set(_TARGET):
                    _queue(conn, pending_pushes, self._attendees(conn, current), now)
        return out

    def get(self, session_id: str) -> MeetupSession | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(meetup_sessions).where(meetup_sessions.c.id == session_id)).first()
        return _session(r) if r else None

    def sessions(self, source: str | None = None) -> list[MeetupSession]:
        """Every session (of a source), latest first."""
        q = select(meetup_sessions).order_by(meetup_sessions.c.starts_at.desc(), meetup_sessions.c.id)
        if source is not None:
            q = q.where(meetup_sessions.c.source == source)
        with self.engine.connect() as conn:
            return [_session(r) for r in conn.execute(q)]

    def new_link(self, session_id: str) -> int:
        """The next organiser-link generation: links of the previous ones stop working."""
        with self.engine.begin() as conn:
            got = conn.execute(update(meetup_sessions).where(meetup_sessions.c.id == session_id)
                               .values(link_generation=meetup_sessions.c.link_generation + 1)
                               .returning(meetup_sessions.c.link_generation)).scalar_one_or_none()
        if got is None:
            raise NotFound(f"no meetup session {session_id}")
        return int(got)

    def close(self, session_id: str, now: datetime | None = None) -> bool:
        """Close a session to check-ins; False if it was already closed."""
        with self.engine.begin() as conn:
            return conn.execute(update(meetup_sessions).where(
                meetup_sessions.c.id == session_id, meetup_sessions.c.closed_at.is_(None))
                .values(closed_at=now or datetime.now(UTC))).rowcount == 1

    def routes(self) -> list[SessionRoute]:
        """The sessions' own push targets."""
        s = meetup_sessions.c
        with self.engine.connect() as conn:
            return [SessionRoute(r.source, r.id, r.push_to, r.course, r.push_target)
                    for r in conn.execute(select(s.source, s.id, s.push_to, s.course, s.push_target)
                                          .where(s.push_to.is_not(None), s.push_target.is_not(None))
                                          .order_by(s.id))]

    # -- check-ins ------------------------------------------------------------
    def record(self, new: NewCheckIn, batch: Batch, *, per_device: int | None = None,
               now: datetime | None = None) -> tuple[CheckIn, bool]:
        """The check-in and, unless it is pending, its presence (`batch`), in one transaction.

        Returns the check-in and whether it is new: a second check-in of the same address is
        the first one, unchanged. CapacityError when the device already checked in
        `per_device` addresses at this session; CheckInRefused `erased` for an address whose
        owner asked to be erased."""
        now = now or datetime.now(UTC)
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    created = self._record(conn, new, batch, per_device, now)
                break
            except IntegrityError:
                continue  # the same address at the same instant from another worker: read it
        else:
            raise StoreError(f"check-in of session {new.session_id} kept colliding")
        found = self.checkin_of(new.session_id, new.email)
        assert found is not None
        return found, created

    def record_many(self, items: Sequence[tuple[NewCheckIn, Batch]],
                    now: datetime | None = None) -> int:
        """A sign-in sheet's check-ins, all or none (one transaction); how many were new."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            return sum(self._record(conn, new, batch, None, now) for new, batch in items)

    def _record(self, conn: Connection, new: NewCheckIn, batch: Batch, per_device: int | None,
                now: datetime) -> bool:
        c = meetup_checkins.c
        if conn.execute(select(erasures.c.email_hash).where(
                erasures.c.email_hash.in_(erasure_key.candidates(conn, new.email)))).first():
            raise CheckInRefused("erased", "the address's owner asked to be erased")
        row = conn.execute(select(c.id, c.status).where(c.session_id == new.session_id,
                                                        c.email == new.email)).first()
        if row is not None and row.status != "removed":
            return False
        if per_device is not None and new.device is not None:
            used = conn.execute(select(func.count()).select_from(meetup_checkins).where(
                c.session_id == new.session_id, c.device == new.device,
                c.status != "removed")).scalar_one()
            if used >= per_device:
                raise CapacityError(f"this device already checked in {used} people")
        status = "pending" if new.pending else "present"
        values = dict(method=new.method, status=status, device=new.device, created_at=now,
                      confirmed_at=None if new.pending else now)
        if row is None:
            conn.execute(insert(meetup_checkins).values(session_id=new.session_id, email=new.email,
                                                        **values))
        else:  # removed by mistake, then checked in again
            conn.execute(update(meetup_checkins).where(c.id == row.id).values(**values))
        if not new.pending:
            apply_batch(conn, batch, NO_RUN, now)
        return True

    def confirm(self, checkin_id: int, batch: Batch, now: datetime | None = None) -> bool:
        """A pending check-in becomes a presence (its `batch`); False if it was not pending."""
        now = now or datetime.now(UTC)
        c = meetup_checkins.c
        with self.engine.begin() as conn:
            done = conn.execute(update(meetup_checkins).where(c.id == checkin_id, c.status == "pending")
                                .values(status="present", confirmed_at=now)).rowcount == 1
            if done:
                apply_batch(conn, batch, NO_RUN, now)
        return done

    def remove(self, checkin_id: int, batch: Batch, now: datetime | None = None) -> bool:
        """A mistaken entry: the check-in is marked removed and its presence recorded absent
        (`batch`, value 0), so rules stop counting it. What was already pushed stays pushed."""
        now = now or datetime.now(UTC)
        c = meetup_checkins.c
        with self.engine.begin() as conn:
            row = conn.execute(select(c.status).where(c.id == checkin_id)).first()
            if row is None or row.status == "removed":
                return False
            conn.execute(update(meetup_checkins).where(c.id == checkin_id).values(status="removed"))
            if row.status == "present":
                apply_batch(conn, batch, NO_RUN, now)
        return True

    def checkin(self, checkin_id: int) -> CheckIn | None:
        return next(iter(self._checkins(meetup_checkins.c.id == checkin_id)), None)

    def checkin_of(self, session_id: str, email: str) -> CheckIn | None:
        return next(iter(self._checkins(and_(meetup_checkins.c.session_id == session_id,
                                             meetup_checkins.c.email == email))), None)

    def checkins(self, session_id: str, *, removed: bool = False) -> list[CheckIn]:
        """A session's check-ins in the order they came (the removed ones on request)."""
        where = meetup_checkins.c.session_id == session_id
        if not removed:
            where = and_(where, meetup_checkins.c.status != "removed")
        return self._checkins(where)

    def unmatched(self, source: str | None = None) -> list[CheckIn]:
        """Present check-ins whose address no platform knows yet: for someone to link."""
        where = meetup_checkins.c.status == "present"
        if source is not None:
            where = and_(where, meetup_checkins.c.session_id.in_(
                select(meetup_sessions.c.id).where(meetup_sessions.c.source == source)))
        return [c for c in self._checkins(where) if not c.matched]

    def _checkins(self, where: Any) -> list[CheckIn]:
        c, s = meetup_checkins.c, meetup_sessions.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(meetup_checkins, s.source).join(
                meetup_sessions, s.id == c.session_id).where(where).order_by(c.id)).all()
            people = _people(conn, [(r.source, r.email) for r in rows])
        out = []
        for r in rows:
            learner_id, fullname, matched = people.get((r.source, r.email), (None, None, False))
            out.append(CheckIn(r.id, r.session_id, r.email, r.method, r.status,
                               aware(r.created_at), aware(r.confirmed_at), learner_id, fullname,
                               matched))
        return out

    def _attendees(self, conn: Connection, session: MeetupSession) -> set[int]:
        """Learner ids of a session's present check-ins."""
        c = meetup_checkins.c
        emails = list(conn.execute(select(c.email).where(c.session_id == session.id,
                                                         c.status == "present")).scalars())
        return {lid for lid, _, _ in _people(conn, [(session.source, e) for e in emails]).values()
                if lid is not None}

    def link_address(self, checkin_id: int, email: str) -> bool:
        """The address typed at a check-in belongs to the learner known by `email` (an admin's
        decision): its identity, and every presence recorded under it, move to that learner,
        who is queued for evaluation and pushes. NotFound for an unknown learner or check-in."""
        found = self.checkin(checkin_id)
        if found is None:
            raise NotFound(f"no check-in {checkin_id}")
        session = self.get(found.session_id)
        assert session is not None
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            target = conn.execute(select(learners.c.id).where(
                learners.c.email == email.strip().lower(), learners.c.erased_at.is_(None))).scalar_one_or_none()
            if target is None:
                raise NotFound(f"no learner with email {email}")
            ident = conn.execute(select(identities.c.id, identities.c.learner_id).where(
                identities.c.source == session.source,
                identities.c.external_id == found.email)).first()
            if ident is None or ident.learner_id == target:
                return False
            old = ident.learner_id
            theirs = {tuple(r) for r in conn.execute(select(facts.c.kind, facts.c.course, facts.c.item)
                                                     .where(facts.c.learner_id == target,
                                                            facts.c.source == session.source))}
            for r in conn.execute(select(facts.c.id, facts.c.kind, facts.c.course, facts.c.item).where(
                    facts.c.learner_id == old, facts.c.source == session.source)).all():
                if (r.kind, r.course, r.item) in theirs:  # they checked in twice: one presence
                    conn.execute(delete(facts).where(facts.c.id == r.id))
            conn.execute(update(facts).where(facts.c.learner_id == old, facts.c.source == session.source)
                         .values(learner_id=target))
            conn.execute(update(identities).where(identities.c.id == ident.id).values(learner_id=target))
            _queue(conn, pending_evaluations, {target}, now)
            _queue(conn, pending_pushes, {target}, now)
        return True

    # -- rate limits ------------------------------------------------------------
    def hit(self, key: str, limit: int, window: timedelta, now: datetime | None = None) -> bool:
        """Count one request against `key` in the current fixed window; False once over `limit`.

        One upsert per call, so every web worker and machine shares the counters."""
        from sqlalchemy.dialects import postgresql, sqlite

        now = now or datetime.now(UTC)
        seconds = int(window.total_seconds())
        slot = int(now.timestamp()) // seconds
        expires = datetime.fromtimestamp((slot + 1) * seconds, UTC)
        with self.engine.begin() as conn:
            dialect_insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = dialect_insert(meetup_throttle).values(key=f"{key}@{slot}", count=1,
                                                          expires_at=expires)
            count = conn.execute(stmt.on_conflict_do_update(
                index_elements=["key"], set_={"count": meetup_throttle.c.count + 1})
                .returning(meetup_throttle.c.count)).scalar_one()
            if count == 1:  # a new window: the counters of ended ones go
                conn.execute(delete(meetup_throttle).where(meetup_throttle.c.expires_at < now))
        return int(count) <= limit


def _queue(conn: Connection, table: Any, learner_ids: set[int], now: datetime) -> None:
    if learner_ids:
        conn.execute(insert(table), [{"learner_id": lid, "created_at": now}
                                     for lid in sorted(learner_ids)])


def _people(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int | None, str | None, bool]]:
    """(source, email) -> (learner id, name, known to a platform): the learner is the one the
    check-in's identity points to, else the one holding the address; known to a platform when
    that learner has an identity on another source."""
    by_source: dict[str, list[str]] = {}
    for source, email in keys:
        by_source.setdefault(source, []).append(email)
    learner_of: dict[tuple[str, str], int] = {}
    for source, emails in by_source.items():
        for chunk in chunks(sorted(set(emails))):
            for r in conn.execute(select(identities.c.external_id, identities.c.learner_id).where(
                    identities.c.source == source, identities.c.external_id.in_(chunk))):
                learner_of[(source, r.external_id)] = r.learner_id
            missing = [e for e in chunk if (source, e) not in learner_of]
            if missing:
                for r in conn.execute(select(learners.c.email, learners.c.id)
                                      .where(learners.c.email.in_(missing))):
                    learner_of[(source, r.email)] = r.id
    ids = sorted(set(learner_of.values()))
    names: dict[int, str | None] = {}
    elsewhere: dict[int, set[str]] = {}
    for some in chunks(ids):
        for r in conn.execute(select(learners.c.id, learners.c.fullname).where(learners.c.id.in_(some))):
            names[r.id] = r.fullname
        for r in conn.execute(select(identities.c.learner_id, identities.c.source)
                              .where(identities.c.learner_id.in_(some))):
            elsewhere.setdefault(r.learner_id, set()).add(r.source)
    out: dict[tuple[str, str], tuple[int | None, str | None, bool]] = {}
    for (source, email), lid in learner_of.items():
        out[(source, email)] = (lid, names.get(lid), bool(elsewhere.get(lid, set()) - {source}))
    return out
