"""Presence attestations pushed back to the platforms, through the outbox.

`enqueue_attestations` turns presences into one outbox item per (learner, session, target);
`deliver_pushes` sends due items, reads the platform back and records what it said.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bridge.config import Config
from bridge.errors import PermanentSourceError, SourceError
from bridge.model import Attestation, Batch, FactKind
from bridge.store import NewOutboxItem, Store
from bridge.store.schema import facts, identities, outbox
from connectors.push_route import PushRoute
from connectors.registry import make_connector

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


def deliver_pushes(config: Config, store: Store, *, connectors: dict[str, Any] | None = None,
                   now: datetime | None = None, limit: int = 500, run_id: int = 0) -> dict[str, int]:
    """Send due push items; a refusal is recorded as failed, a transient error retried later.

    What the platform says after a push (its read-back facts) is stored like pulled facts.
    """
    now = now or datetime.now(UTC)
    stats = {"sent": 0, "reflected": 0, "retried": 0, "failed": 0}
    opened: dict[str, Any] = {}
    try:
        for item in store.claim_due(CHANNEL, limit=limit, now=now):
            att = Attestation.model_validate(item.payload)
            try:
                connector = (connectors or {}).get(att.source) or opened.get(att.source)
                if connector is None:
                    if att.source not in config.sources:
                        raise PermanentSourceError("the receiving source is no longer configured",
                                                   source=att.source, endpoint="push")
                    connector = opened[att.source] = make_connector(att.source, config.sources[att.source])
                result = connector.push(att)
            except PermanentSourceError as exc:
                store.outbox_failed(item.id, str(exc), {"code": exc.code, "status": exc.status})
                stats["failed"] += 1
            except SourceError as exc:
                if item.attempts >= MAX_ATTEMPTS:
                    store.outbox_failed(item.id, f"gave up after {item.attempts} attempts: {exc}")
                    stats["failed"] += 1
                else:
                    store.outbox_retry(item.id, str(exc), now + _backoff(item.attempts))
                    stats["retried"] += 1
            else:
                store.outbox_done(item.id, result.model_dump(mode="json", exclude={"facts"}))
                if result.facts:
                    store.ingest(run_id, Batch(facts=result.facts))
                stats["sent"] += 1
                stats["reflected"] += bool(result.reflected)
    finally:
        for c in opened.values():
            c.close()
    return stats
