"""Meetup sessions brought up to date from what declares them: the config and its sessions file,
and the attendance sessions of platform courses (`[[sources.<id>.platform_sessions]]`).

Part of a run's pull step; the meetups commands and the web server refresh the declared ones
(local files, no request) before they read sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config import Config
from bridge.errors import ConfigError, SourceError
from bridge.meetups.facts import presence_batch
from bridge.meetups.mail import queue_organiser_link
from bridge.meetups.sessions import declared, from_platform, meetups_sources
from bridge.model import Batch
from bridge.store import NewSession, Store
from connectors.base import Connector
from connectors.registry import REGISTRY
from jobs.counts import Counts

__all__ = ["SessionStats", "refresh_sessions", "check_target"]


@dataclass
class SessionStats(Counts):
    created: int = 0
    updated: int = 0
    from_platforms: int = 0
    errors: int = 0


def check_target(config: Config, push_to: str | None, target: str | None, course: str) -> str | None:
    """Why a session's own push target cannot work (the receiving connector's word), or None."""
    if push_to is None or target is None:
        return None
    if push_to not in config.sources:
        return f"no source {push_to!r} to push to; configured sources: {', '.join(sorted(config.sources))}"
    refusal = getattr(REGISTRY.connector_class(config.sources[push_to].kind), "push_target_refusal", None)
    problem: str | None = refusal(target, course) if refusal else None
    return problem


def refresh_sessions(config: Config, store: Store, *, run_id: int | None = None,
                     connectors: dict[str, Connector] | None = None) -> SessionStats:
    """Declared sessions always; with a `run_id`, the platforms' too (their errors are
    recorded on the run). Sessions whose title, place, dates or tags changed have their
    presences written again, so that evidence says what the session now says; a session with
    an organiser's address has its link queued for them."""
    sessions = declared(config)
    for new in sessions:
        problem = check_target(config, new.push_to, new.push_target, new.course)
        if problem:
            raise ConfigError(problem, file=str(config.file), key=f"session {new.id}: push_to")
    stats = SessionStats()
    if run_id is not None:
        found = _from_platforms(config, store, run_id, connectors or {}, stats)
        stats.from_platforms = len(found)
        sessions += found
    refreshed = store.meetups.refresh(sessions)
    stats.created, stats.updated = refreshed.created, refreshed.updated
    for new in sessions:  # queued once per link generation; the run's delivery step sends it
        session = store.meetups.get(new.id) if new.organiser_email else None
        if session is not None:
            queue_organiser_link(store, config, session)
    for session_id in refreshed.described:
        session = store.meetups.get(session_id)
        settings = meetups_sources(config).get(session.source) if session else None
        if session is None:
            continue
        batches = [presence_batch(session, c.email, c.method, extra_tags=settings.tags if settings else [])
                   for c in store.meetups.checkins(session_id) if c.status == "present"]
        if batches:
            store.facts.ingest(run_id or 0, Batch(identities=[i for b in batches for i in b.identities],
                                                  facts=[f for b in batches for f in b.facts]))
    return stats


def _from_platforms(config: Config, store: Store, run_id: int, connectors: dict[str, Connector],
                    stats: SessionStats) -> list[NewSession]:
    out: list[NewSession] = []
    zone = config.bridge.zone
    for sid, settings in meetups_sources(config).items():
        for imported in settings.platform_sessions:
            source = config.sources.get(imported.source)
            try:
                if source is None:
                    raise SourceError(f"{sid}.platform_sessions: no source {imported.source!r}",
                                      source=sid, endpoint="sessions")
                connector = connectors.get(imported.source) or REGISTRY.make(imported.source, source)
                try:
                    listing = getattr(connector, "meetup_sessions", None)
                    if listing is None:
                        raise SourceError(f"a {source.kind} source cannot list sessions",
                                          source=imported.source, endpoint="sessions")
                    out += [from_platform(info, sid, imported, zone) for info in listing(imported.course)]
                finally:
                    if imported.source not in connectors:
                        connector.close()
            except SourceError as exc:
                stats.errors += 1
                store.runs.record_error(run_id, exc)
    return out
