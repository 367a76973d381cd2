"""Where a presence is pushed back: the `[[sources.<id>.push]]` routes of a presence source.

Shared by the connectors' config models; `jobs.push` turns matching presences into outbox items.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.model import PUSH_TARGET

__all__ = ["PushRoute", "RoutedSource"]


class PushRoute(BaseModel):
    """Presences of `session` (or tagged `tag`) are pushed to `target` on source `to`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: str = Field("*", description="session id of the presence fact; '*' for every session")
    tag: str | None = Field(None, description="only sessions carrying this tag")
    to: str = Field(description="id of the source receiving the push")
    course: str = Field(description="course on the receiving source (Moodle id, Open edX key)")
    target: str = Field(description="completion:<cmid> | attendance:<sessionid> | block:<usage key>")

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if not PUSH_TARGET.match(v):
            raise ValueError("expected completion:<cmid>, attendance:<sessionid> or block:<usage key>")
        return v

    def matches(self, session: str, tags: object) -> bool:
        if self.session not in ("*", session):
            return False
        return self.tag is None or (isinstance(tags, list) and self.tag.lower() in
                                    {str(t).lower() for t in tags})


@runtime_checkable
class RoutedSource(Protocol):
    """A source config that declares push routes (`[[sources.<id>.push]]`)."""

    push: list[PushRoute]
