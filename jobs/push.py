"""Presence attestations pushed back to the platforms, through the outbox.

`enqueue_attestations` turns new presences into one outbox item per (learner, session, target);
`deliver_pushes` sends due items and records what the platform said, and what it now says.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from bridge.config import Config
from bridge.errors import FixableSourceError, PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, PushResult, Watermark
from bridge.progress import Task
from bridge.store import NewOutboxItem, OutboxItem, Presence, Store
from connectors.base import REREAD, Connector
from connectors.push_route import PushRoute, RoutedSource
from connectors.registry import REGISTRY
from jobs.counts import Counts

__all__ = ["QueueStats", "PushStats", "enqueue_attestations", "deliver_pushes", "MAX_ATTEMPTS"]

log = logging.getLogger("badge_bridge.push")
CHANNEL = "push"
MAX_ATTEMPTS = 10


@dataclass
class QueueStats(Counts):
    """What queuing found: items added, presences whose learner the target does not know yet."""

    enqueued: int = 0
    waiting_identity: int = 0


@dataclass
class PushStats(Counts):
    """What delivery did; `read_back` counts the facts the platforms' answers added or changed;
    `refused`, the pushes kept until an administrator fixes what the platform refused them for."""

    sent: int = 0
    reflected: int = 0
    retried: int = 0
    refused: int = 0
    failed: int = 0
    read_back: int = 0


def _routes(config: Config) -> dict[str, list[PushRoute]]:
    """The push routes of each source that has some (the connectors' configs declare them)."""
    return {sid: list(src.push) for sid, src in config.sources.items()
            if isinstance(src, RoutedSource) and src.push}


def _fingerprint(routes: list[PushRoute]) -> str:
    return hashlib.sha256(json.dumps([r.model_dump() for r in routes], sort_keys=True).encode()).hexdigest()


def enqueue_attestations(config: Config, store: Store) -> QueueStats:
    """One outbox item per (learner, session, target) for the presences that need one; idempotent.

    Presences are read for the learners queued by ingestion (a new presence, a new identity);
    for every learner of a source whose routes were added or changed since the last time
    (their fingerprint is kept as a watermark), so that a new route also covers past sessions.
    A meetup session's own target is a route of its source for that session.
    A learner without an identity on the receiving source waits (counted) until one arrives.
    """
    queue = store.facts.to_push.pending()
    stats = QueueStats()
    configured, own = _routes(config), _session_routes(config, store)
    for source in sorted(configured.keys() | own.keys()):
        routes = configured.get(source, [])
        fingerprint = _fingerprint(routes)
        changed = bool(routes) and store.facts.watermark("push", source, "routes") != fingerprint
        presences = store.facts.presences(source, None if changed else set(queue.values()))
        for route in routes + own.get(source, []):
            _enqueue(store, source, route, presences, stats)
        if changed:
            store.facts.set_watermark("push", source, "routes", fingerprint)
    store.facts.to_push.clear(queue)
    return stats


def _session_routes(config: Config, store: Store) -> dict[str, list[PushRoute]]:
    """Meetup sessions' own targets (a Moodle attendance session…), as routes of their source.
    A new or changed target queues the session's attendees (the store does), so these need
    no fingerprint."""
    out: dict[str, list[PushRoute]] = {}
    for r in store.meetups.routes():
        if r.source in config.sources and r.to in config.sources:
            out.setdefault(r.source, []).append(
                PushRoute(session=r.session_id, to=r.to, course=r.course, target=r.target))
    return out


def _enqueue(store: Store, source: str, route: PushRoute, presences: list[Presence],
             stats: QueueStats) -> None:
    matching = {f"push:{p.learner_id}:{source}/{p.item}:{route.to}/{route.target}": p
                for p in presences if route.matches(p.item, p.tags)}
    known = store.outbox.known(list(matching))
    todo = {key: p for key, p in matching.items() if key not in known}
    on_target = store.facts.identities_of(route.to, {p.learner_id for p in todo.values()})
    items = []
    for key, p in todo.items():
        ident = on_target.get(p.learner_id)
        if ident is None:
            stats.waiting_identity += 1
            continue
        att = Attestation(source=route.to, external_id=ident.external_id, username=ident.username,
                          email=ident.email, course=route.course, session=f"{source}/{p.item}",
                          target=route.target)
        items.append(NewOutboxItem(key=key, channel=CHANNEL, payload=asdict(att),
                                   learner_id=p.learner_id))
    stats.enqueued += store.outbox.add(items)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


BATCH = 50  # leased together; pushed well within the lease
PARALLEL = 4  # concurrent pushes, the same bound as the connectors' per-learner reads

Outcome = PushResult | SourceError


def deliver_pushes(config: Config, store: Store, *, connectors: dict[str, Connector] | None = None,
                   now: datetime | None = None, limit: int | None = None, run_id: int = 0,
                   progress: Task | None = None) -> PushStats:
    """Send every due push item (or at most `limit`), at most PARALLEL at once.

    Before anything is written, the learners are queued for a re-read on the receiving source
    (connectors.base.REREAD); a push is done when its read-back is stored, in the same
    transaction that marks it sent and unqueues the learner. So a crash anywhere between the
    platform's write and that commit is finished by the next run: its pull reads the learner,
    and the item, taken up again when its lease ends, finds the write made and sends nothing.
    A refusal nothing can fix ends the item; one an administrator can fix keeps it, retried
    with backoff (and at once by `pushes retry`); other failures are retried MAX_ATTEMPTS times.
    Each refusal is recorded once on the run, with how many pushes it stopped. Items for the
    same learner and target go one after the other: the second finds the first done.
    """
    now = now or datetime.now(UTC)
    stats = PushStats()
    opened: dict[str, Connector] = {}
    refusals: dict[tuple[object, ...], list[SourceError]] = {}

    def connector_for(source: str) -> Connector:
        connector = (connectors or {}).get(source) or opened.get(source)
        if connector is None:
            if source not in config.sources:
                raise PermanentSourceError("the receiving source is no longer configured",
                                           source=source, endpoint="push")
            connector = opened[source] = REGISTRY.make(source, config.sources[source])
        return connector

    def push_group(connector: Connector, group: list[tuple[OutboxItem, Attestation]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for _, att in group:
            try:
                outcomes.append(connector.push(att))
            except SourceError as exc:
                outcomes.append(exc)
        return outcomes

    def record(item: OutboxItem, att: Attestation, outcome: Outcome) -> None:
        if isinstance(outcome, SourceError):
            refusals.setdefault(_refusal_key(outcome), []).append(outcome)
        _record(store, item, att, outcome, now, stats, run_id)
        if progress is not None:
            progress.advance()

    try:
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="push") as pool:
            while limit is None or limit > 0:
                items = store.outbox.claim(CHANNEL, limit=BATCH if limit is None else min(limit, BATCH),
                                           now=now, run_id=run_id)
                if not items:
                    break
                if limit is not None:
                    limit -= len(items)
                groups: dict[tuple[str, str, str], list[tuple[OutboxItem, Attestation]]] = {}
                for item in items:
                    att = Attestation(**item.payload)
                    groups.setdefault((att.source, att.external_id, att.target), []).append((item, att))
                store.facts.ingest(run_id, Batch(watermarks=[
                    _reread(att, "1") for group in groups.values() for _, att in group[:1]]))
                jobs = []
                for (source, _, _), group in groups.items():
                    try:
                        connector = connector_for(source)
                    except PermanentSourceError as exc:
                        for item, att in group:
                            record(item, att, exc)
                        continue
                    jobs.append((group, pool.submit(push_group, connector, group)))
                for group, future in jobs:
                    for (item, att), outcome in zip(group, future.result(), strict=True):
                        record(item, att, outcome)
    finally:
        for c in opened.values():
            c.close()
        for errors in refusals.values():
            if run_id:  # outside a run (a test, a one-off call) the items keep their errors
                store.runs.record_error(run_id, _counted(errors))
    return stats


def _reread(att: Attestation, value: str) -> Watermark:
    """The learner's re-read mark on the receiving source: "1" queued, "" not."""
    return Watermark(source=att.source, course=att.course, stream=f"{REREAD}{att.external_id}",
                     value=value)


def _refusal_key(error: SourceError) -> tuple[object, ...]:
    """One line per kind of refusal and source: the same missing capability for 300 learners
    is one line saying 300."""
    return (error.source, type(error).__name__, error.endpoint, error.code,
            getattr(error, "capabilities", None) or error.fix or (None if error.code else error.detail))


def _counted(errors: list[SourceError]) -> SourceError:
    first = errors[0]
    if len(errors) == 1:
        return first
    return SourceError(f"{first.detail} ({len(errors)} pushes refused alike)", source=first.source,
                       endpoint=first.endpoint, status=first.status, field=first.field,
                       code=first.code, fix=first.fix)


def _record(store: Store, item: OutboxItem, att: Attestation, outcome: Outcome, now: datetime,
            stats: PushStats, run_id: int) -> None:
    """The outcome of one push on its outbox item, with its read-back when it was sent."""
    if isinstance(outcome, PermanentSourceError):
        store.outbox.failed(item.id, str(outcome), {"code": outcome.code, "status": outcome.status})
        stats.failed += 1
    elif isinstance(outcome, FixableSourceError):  # kept until fixed: never given up
        store.outbox.retry(item.id, str(outcome), now + _backoff(item.attempts))
        stats.refused += 1
    elif isinstance(outcome, SourceError):
        if item.attempts >= MAX_ATTEMPTS:
            store.outbox.failed(item.id, f"gave up after {item.attempts} attempts: {outcome}")
            stats.failed += 1
        else:
            store.outbox.retry(item.id, str(outcome), now + _backoff(item.attempts))
            stats.retried += 1
    else:
        stored = store.outbox.done(item.id, outcome.outcome(), run_id=run_id,
                                   read_back=Batch(facts=outcome.facts, watermarks=[_reread(att, "")]))
        stats.sent += 1
        stats.reflected += bool(outcome.reflected)
        stats.read_back += stored.new_facts + stored.changed_facts
