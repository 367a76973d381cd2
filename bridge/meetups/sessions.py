"""Sessions as the store keeps them, from what declares them: the CLI, the config and its
sessions file, a platform's attendance sessions.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from bridge.config import Config
from bridge.errors import ConfigError
from bridge.meetups.settings import (
    MeetupsSettings,
    PlatformSessions,
    SessionSpec,
    load_sessions_file,
    local,
)
from bridge.model import SessionInfo, utc
from bridge.store import NewSession

__all__ = ["new_id", "from_spec", "from_platform", "declared", "meetups_sources"]


def new_id(start: datetime) -> str:
    """A readable, unguessable id for a session created by hand: m-20261114-3fa9c2."""
    return f"m-{start:%Y%m%d}-{secrets.token_hex(3)}"


def meetups_sources(config: Config) -> dict[str, MeetupsSettings]:
    return {sid: s for sid, s in config.sources.items() if isinstance(s, MeetupsSettings)}


def from_spec(spec: SessionSpec, source: str, zone: ZoneInfo, origin: str) -> NewSession:
    start, end = utc(local(spec.start, zone)), utc(local(spec.end, zone))
    assert start is not None and end is not None
    return NewSession(
        id=spec.id, source=source, course=spec.course, title=spec.title, place=spec.place,
        town=spec.town, starts_at=start, ends_at=end, timezone=str(zone), tags=spec.tags,
        origin=origin, confirm=spec.confirm, organiser_email=spec.organiser_email,
        push_to=spec.push_to, push_target=spec.push_target)


def from_platform(info: SessionInfo, source: str, imported: PlatformSessions,
                  zone: ZoneInfo) -> NewSession:
    """A platform's session under an id of its own (`<platform source>-<id>`); its presences
    go back to the platform's session when the import says so."""
    push = imported.push and info.target is not None
    return NewSession(
        id=f"{info.source}-{info.id}", source=source, course=info.course,
        title=" ".join(info.title.split())[:300] or info.id, place=info.place[:200], town="",
        starts_at=info.start, ends_at=info.end, timezone=str(zone),
        tags=sorted({*imported.tags, *info.tags}), origin=info.source,
        push_to=info.source if push else None, push_target=info.target if push else None)


def declared(config: Config) -> list[NewSession]:
    """The sessions every meetups source declares in the config and its sessions file;
    ConfigError naming the session for one that cannot be."""
    zone = config.bridge.zone
    out: list[NewSession] = []
    for sid, settings in meetups_sources(config).items():
        specs = [(f"sources.{sid}.sessions[{i}]", spec) for i, spec in enumerate(settings.sessions)]
        if settings.sessions_file is not None:
            specs += [(f"{settings.sessions_file}: session[{i}]", spec)
                      for i, spec in enumerate(load_sessions_file(settings.sessions_file))]
        for where, spec in specs:
            problem = spec.check(zone)
            if problem:
                raise ConfigError(problem, file=str(config.file), key=where)
            out.append(from_spec(spec, sid, zone, "config"))
    return out
