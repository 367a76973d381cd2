"""Presence attestations pushed back to the platforms, through the outbox.

`enqueue_attestations` turns presences into one outbox item per (learner, session, target);
`deliver_pushes` sends due items, reads the platform back and records what it said.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bridge.config import Config
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, Fact, FactKind, PushResult
from bridge.store import NewOutboxItem, OutboxItem, Store
from bridge.store.schema import facts, identities, outbox
from connectors.push_route import PushRoute
from connectors.registry import REGISTRY

__all__ = ["enqueue_attestations", "deliver_pushes", "MAX_ATTEMPTS"]

log = logging.getLogger("badge_bridge.push")
CHANNEL = "push"
MAX_ATTEMPTS = 10


def _routes(config: Config) -> dict[str, list[PushRoute]]:
    return {sid: list(getattr(src, "push", []) or []) for sid, src in config.sources.items()
            if getattr(src, "push", None)}


def _presences(store: Store, source: str) -> list[Any]:
    """Presence facts (value 1) of one source, with their learner's id."""
    with store.engine.connect() as conn:
        return list(conn.execute(select(facts.c.learner_id, facts.c.item, facts.c.attrs).where(
            facts.c.source == source, facts.c.kind == FactKind.presence.value, facts.c.value == 1.0)))


def _identities_on(store: Store, source: str) -> dict[int, Any]:
    with store.engine.connect() as conn:
        return {r.learner_id: r for r in conn.execute(select(
            identities.c.learner_id, identities.c.external_id, identities.c.username,
            identities.c.email).where(identities.c.source == source))}


def _existing_keys(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(outbox.c.key).where(outbox.c.channel == CHANNEL)).scalars())


def enqueue_attestations(config: Config, store: Store, run_id: int | None = None) -> dict[str, int]:
    """One outbox item per (learner, session, target) for every routed presence; idempotent.

    A learner without an identity on the receiving source waits (counted) until a pull of
    that source brings one. `run_id` is accepted for the run's bookkeeping; every presence is
    considered so that a route added later also covers past sessions.
    """
    existing = _existing_keys(store)
    stats = {"enqueued": 0, "waiting_identity": 0}
    for source, routes in _routes(config).items():
        presences = _presences(store, source)
        for route in routes:
            on_target = _identities_on(store, route.to)
            for p in presences:
                if not route.matches(p.item, (p.attrs or {}).get("tags")):
                    continue
                key = f"push:{p.learner_id}:{source}/{p.item}:{route.to}/{route.target}"
                if key in existing:
                    continue
                ident = on_target.get(p.learner_id)
                if ident is None:
                    stats["waiting_identity"] += 1
                    continue
                payload = {"source": route.to, "external_id": ident.external_id,
                           "username": ident.username, "email": ident.email, "course": route.course,
                           "session": f"{source}/{p.item}", "target": route.target}
                if store.enqueue(NewOutboxItem(key=key, channel=CHANNEL, payload=payload,
                                               learner_id=p.learner_id)):
                    stats["enqueued"] += 1
                existing.add(key)
    return stats


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


BATCH = 50  # leased together; pushed well within the lease
PARALLEL = 4  # concurrent pushes, the same bound as the connectors' per-learner reads


def deliver_pushes(config: Config, store: Store, *, connectors: dict[str, Any] | None = None,
                   now: datetime | None = None, limit: int | None = None, run_id: int = 0) -> dict[str, int]:
    """Send every due push item (or at most `limit`), at most PARALLEL at once.

    A refusal is recorded as failed, a transient error retried later; what the platform says
    after a push (its read-back facts) is stored like pulled facts. Items for the same learner
    and target go one after the other, so the second finds the first done and sends nothing.
    """
    now = now or datetime.now(UTC)
    stats = {"sent": 0, "reflected": 0, "retried": 0, "failed": 0}
    opened: dict[str, Any] = {}

    def connector_for(source: str) -> Any:
        connector = (connectors or {}).get(source) or opened.get(source)
        if connector is None:
            if source not in config.sources:
                raise PermanentSourceError("the receiving source is no longer configured",
                                           source=source, endpoint="push")
            connector = opened[source] = REGISTRY.make(source, config.sources[source])
        return connector

    def push_group(connector: Any, group: list[tuple[OutboxItem, Attestation]]) -> list[Any]:
        outcomes: list[Any] = []
        for _, att in group:
            try:
                outcomes.append(connector.push(att))
            except SourceError as exc:
                outcomes.append(exc)
        return outcomes

    try:
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="push") as pool:
            while limit is None or limit > 0:
                items = store.claim_due(CHANNEL, limit=BATCH if limit is None else min(limit, BATCH), now=now)
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
                            _record(store, item, exc, None, now, stats)
                        continue
                    jobs.append((group, pool.submit(push_group, connector, group)))
                read_back: list[Fact] = []
                for group, future in jobs:
                    for (item, _), outcome in zip(group, future.result(), strict=True):
                        _record(store, item, outcome if isinstance(outcome, SourceError) else None,
                                None if isinstance(outcome, SourceError) else outcome, now, stats)
                        if isinstance(outcome, PushResult):
                            read_back.extend(outcome.facts)
                if read_back:  # one transaction for the batch's read-back facts
                    store.ingest(run_id, Batch(facts=read_back))
    finally:
        for c in opened.values():
            c.close()
    return stats


def _record(store: Store, item: OutboxItem, error: SourceError | None, result: PushResult | None,
            now: datetime, stats: dict[str, int]) -> None:
    """The outcome of one push on its outbox item (its read-back facts are stored by the caller)."""
    if isinstance(error, PermanentSourceError):
        store.outbox_failed(item.id, str(error), {"code": error.code, "status": error.status})
        stats["failed"] += 1
    elif error is not None:
        if item.attempts >= MAX_ATTEMPTS:
            store.outbox_failed(item.id, f"gave up after {item.attempts} attempts: {error}")
            stats["failed"] += 1
        else:
            store.outbox_retry(item.id, str(error), now + _backoff(item.attempts))
            stats["retried"] += 1
    elif result is not None:
        store.outbox_done(item.id, result.outcome())
        stats["sent"] += 1
        stats["reflected"] += bool(result.reflected)
