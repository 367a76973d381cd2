"""The meetups source: check-ins at meetup sessions as presence facts, pushed back by its routes.

Its facts are written as check-ins happen (the web app's check-in page, the organiser's page,
`presence import`), so a pull brings nothing; its sessions are refreshed by `jobs.meetups`.
Nothing can be pushed to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from pydantic import Field

from bridge.config import SourceConfig
from bridge.errors import PermanentSourceError
from bridge.meetups.settings import MeetupsSettings
from bridge.model import Attestation, Batch, PushResult
from connectors.base import SourceState
from connectors.push_route import PushRoute

__all__ = ["MeetupsConfig", "MeetupsConnector"]


class MeetupsConfig(MeetupsSettings):
    push: list[PushRoute] = Field(default_factory=list,
                                  description="presence push-back routes, see jobs.push")


class MeetupsConnector:
    kind: ClassVar[str] = "meetups"
    config_model: ClassVar[type[SourceConfig]] = MeetupsConfig

    def __init__(self, source_id: str, config: MeetupsConfig) -> None:
        self.source_id, self.config = source_id, config

    @property
    def requests(self) -> dict[str, int]:
        return {}

    @classmethod
    def push_target_refusal(cls, target: str, course: str) -> str | None:
        return "a meetups source records check-ins; it cannot receive pushes"

    def check(self) -> list[str]:
        path = self.config.sessions_file
        return [f"source {self.source_id}: {path} does not exist"] if path and not path.exists() else []

    def pull(self, state: SourceState) -> Iterator[Batch]:
        return iter(())

    def push(self, attestation: Attestation) -> PushResult:
        raise PermanentSourceError("a meetups source cannot receive pushes", source=self.source_id,
                                   endpoint="push")

    def close(self) -> None:
        """Nothing to release."""
