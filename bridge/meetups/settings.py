"""What a meetups source declares: its sessions (inline or in a sessions file), the platform
courses whose attendance sessions become meetups, the check-in window and the rate limits.

The connector of kind `meetups` extends this model with push routes; the web app and the jobs
find meetups sources by this base class, so the core never imports a connector.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bridge.addresses import email_address
from bridge.config import SourceConfig
from bridge.errors import ConfigError, InvalidAddress, TomlError
from bridge.model import PUSH_TARGET
from bridge.tomlloc import load_toml

__all__ = ["SESSION_ID", "SessionSpec", "PlatformSessions", "MeetupsSettings", "local",
           "load_sessions_file"]

SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A time as written (ISO 8601): with its offset as given, else in `zone`."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionSpec(_Model):
    """One session as the config, a sessions file or the CLI writes it."""

    id: str = Field(description="letters, digits, '.', '_', '-'; appears in URLs")
    title: str = Field(min_length=1, max_length=300)
    place: str = Field(min_length=1, max_length=200, description="the place's name")
    town: str = Field("", max_length=100)
    start: datetime = Field(description="ISO 8601; without an offset, in [bridge] timezone")
    end: datetime
    course: str = Field(max_length=200, description="the course the presence counts for")
    tags: list[str] = Field(default_factory=list)
    confirm: Literal["none", "email"] = Field(
        "none", description="email: a check-in waits for a click on a link sent to the address")
    organiser_email: str | None = None
    push_to: str | None = Field(None, description="source receiving this session's presences")
    push_target: str | None = Field(None, description="completion:<cmid> | attendance:<id> | …")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not SESSION_ID.match(v):
            raise ValueError("letters, digits, '.', '_' and '-' only, 100 at most")
        if v == "confirm":  # /m/confirm/… is the confirmation link's address
            raise ValueError("'confirm' is reserved; choose another id")
        return v

    @field_validator("title", "place", "town")
    @classmethod
    def _one_line(cls, v: str) -> str:
        return " ".join(v.split())

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return sorted({t.strip().lower() for t in v if t.strip()})

    @field_validator("organiser_email")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        try:
            return email_address(v) if v else None
        except InvalidAddress as exc:
            raise ValueError(exc.reason) from None

    @field_validator("push_target")
    @classmethod
    def _target(cls, v: str | None) -> str | None:
        if v is not None and not PUSH_TARGET.match(v):
            raise ValueError("expected completion:<cmid>, attendance:<sessionid> or block:<usage key>")
        return v

    def check(self, zone: ZoneInfo) -> str | None:
        """What is wrong with the spec as a whole (a problem in words), or None."""
        if local(self.end, zone) <= local(self.start, zone):
            return "end: must be after start"
        if local(self.end, zone) - local(self.start, zone) > timedelta(days=2):
            return "end: a meetup lasts two days at most"
        if (self.push_to is None) != (self.push_target is None):
            return "push_to and push_target go together"
        return None


class PlatformSessions(_Model):
    """`[[sources.<id>.platform_sessions]]`: the attendance sessions of a platform course
    become meetup sessions, and their presences are pushed back to the attendance session."""

    source: str = Field(description="a source whose connector lists sessions (Moodle)")
    course: str
    tags: list[str] = Field(default_factory=list)
    push: bool = Field(True, description="push check-ins back to the attendance session")


class MeetupsSettings(SourceConfig):
    """A meetups source: check-ins at its sessions become its presence facts."""

    kind: Literal["meetups"] = "meetups"
    sessions: list[SessionSpec] = Field(default_factory=list)
    sessions_file: Path | None = Field(None, description="a TOML file of [[session]] tables")
    platform_sessions: list[PlatformSessions] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="tags of every session's presences")
    opens_before: int = Field(30, ge=0, le=24 * 60, description="minutes before start")
    closes_after: int = Field(30, ge=0, le=24 * 60, description="minutes after end")
    per_device: int = Field(3, ge=1, le=100, description="people one phone may check in per session")
    device_limit: int = Field(20, ge=1, description="check-in requests per device per window")
    ip_limit: int = Field(600, ge=1, description="check-in requests per IP address per window")
    limit_window: int = Field(600, ge=10, description="seconds of a rate-limit window")


def load_sessions_file(path: Path) -> list[SessionSpec]:
    """The `[[session]]` tables of a sessions file; ConfigError naming the file and line."""
    file = str(path)
    try:
        data, locator = load_toml(path)
    except FileNotFoundError:
        raise ConfigError("sessions file not found", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    except TomlError as exc:
        raise ConfigError(exc.detail, file=exc.file, line=exc.line) from None
    unknown = set(data) - {"session"}
    if unknown or not isinstance(data.get("session", []), list):
        key = sorted(unknown)[0] if unknown else "session"
        raise ConfigError("expected only [[session]] tables", file=file, key=key,
                          line=locator.line((key,)))
    specs = []
    for i, raw in enumerate(data.get("session", [])):
        try:
            specs.append(SessionSpec.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            where = ("session", i, *err["loc"])
            raise ConfigError(err["msg"], file=file, key=".".join(map(str, where)),
                              line=locator.line(where)) from None
    return specs
