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
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, Fact, PushResult
from bridge.store import IngestResult, NewOutboxItem, OutboxItem, Presence, Store
from connectors.base import Connector
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
    """What delivery did; `read_back` counts the facts the platforms' answers added or changed."""

    sent: int = 0
    reflected: int = 0
    retried: int = 0
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
                   now: datetime | None = None, limit: int | None = None, run_id: int = 0) -> PushStats:
    """Send every due push item (or at most `limit`), at most PARALLEL at once.

    A refusal is recorded as failed, a transient error retried later; what the platform says
    after a push (its read-back facts) is stored like pulled facts, and so queued for evaluation.
    Items for the same learner and target go one after the other, so the second finds the first
    done and sends nothing.
    """
    now = now or datetime.now(UTC)
    stats = PushStats()
    opened: dict[str, Connector] = {}

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

    try:
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="push") as pool:
            while limit is None or limit > 0:
                items = store.outbox.claim(CHANNEL, limit=BATCH if limit is None else min(limit, BATCH),
                                           now=now)
                if not items:
                    break
                if limit is not None:
                    limit -= len(items)
                groups: dict[tuple[str, str, str], list[tuple[OutboxItem, Attestation]]] = {}
                for item in items:
                    att = Attestation(**item.payload)
                    groups.setdefault((att.source, att.external_id, att.target), []).append((item, att))
                jobs = []
                for (source, _, _), group in groups.items():
                    try:
                        connector = connector_for(source)
                    except PermanentSourceError as exc:
                        for item, _ in group:
                            _record(store, item, exc, now, stats)
                        continue
                    jobs.append((group, pool.submit(push_group, connector, group)))
                read_back: list[Fact] = []
                for group, future in jobs:
                    for (item, _), outcome in zip(group, future.result(), strict=True):
                        _record(store, item, outcome, now, stats)
                        if isinstance(outcome, PushResult):
                            read_back.extend(outcome.facts)
                if read_back:  # one transaction for the batch's read-back facts
                    stored: IngestResult = store.facts.ingest(run_id, Batch(facts=read_back))
                    stats.read_back += stored.new_facts + stored.changed_facts
    finally:
        for c in opened.values():
            c.close()
    return stats


def _record(store: Store, item: OutboxItem, outcome: Outcome, now: datetime, stats: PushStats) -> None:
    """The outcome of one push on its outbox item (its read-back facts are stored by the caller)."""
    if isinstance(outcome, PermanentSourceError):
        store.outbox.failed(item.id, str(outcome), {"code": outcome.code, "status": outcome.status})
        stats.failed += 1
    elif isinstance(outcome, SourceError):
        if item.attempts >= MAX_ATTEMPTS:
            store.outbox.failed(item.id, f"gave up after {item.attempts} attempts: {outcome}")
            stats.failed += 1
        else:
            store.outbox.retry(item.id, str(outcome), now + _backoff(item.attempts))
            stats.retried += 1
    else:
        store.outbox.done(item.id, outcome.outcome())
        stats.sent += 1
        stats.reflected += bool(outcome.reflected)
