"""The connector interface: what a plugin implements to add a kind of source.

A few methods, each one line of docstring; everything else a connector needs is in `connectors.http`.
Optional members, looked up with getattr: `requirements` (what the platform must grant, see
connectors.requirements), `push_target_refusal(target, course)` (a classmethod: why a push
route's target cannot work, checked when the config loads), `forget(email)` (erase a learner
from files the source keeps, returning the rows removed) and `meetup_sessions(course)` (the
sessions a course schedules, as `SessionInfo`, for a meetups source's `platform_sessions`),
`probes(pushed)` (the `Probe`s `badge-bridge doctor` runs: what the platform grants, read
without changing anything; `pushed` lists the (course, target) of the routes pushing to the
source; without it, `check()` is asked) and `discover(only)` (the courses the credential sees
and their in-person-looking activities, as `CourseSeen`, for `badge-bridge init`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Protocol

from bridge.config import SourceConfig
from bridge.errors import SourceError
from bridge.model import Attestation, Batch, FactKind, Identity, PushResult

__all__ = ["Connector", "SourceState", "REREAD"]

# Learners a push may have changed on the platform are queued for a re-read: the stream
# `reread:<external id>` of their course holds "1" from before the write until their facts are
# stored. A connector reads them whatever their signals say, and sets the stream to "" in the
# batch that stores what it read, so that a crash between a push and its read-back loses nothing.
REREAD = "reread:"


class SourceState(Protocol):
    """What the store tells a connector about what it already pulled (see REREAD)."""

    full: bool
    """Read every learner again whatever the signals say (`sync --full`)."""
    courses: list[str] | None
    """Pull only these courses (one shard of a sync spread over workers); None: every one."""

    def watermark(self, course: str, stream: str) -> str | None:
        """The value a previous run left for (course, stream), or None."""

    def watermarks(self, course: str, prefix: str) -> dict[str, str]:
        """Every stream of `course` whose name starts with `prefix`, with its value."""

    def holding(self, course: str, kind: FactKind, item: str = "") -> set[str]:
        """External ids whose fact (kind, course, item) is recorded complete (value 1)."""

    def known_identities(self) -> Mapping[str, Identity]:
        """External id -> the identity already stored (email, username, lang...)."""

    def identities_of(self, external_ids: Iterable[str]) -> Mapping[str, Identity]:
        """The stored identities of these external ids (those known), as known_identities."""

    def report(self, error: SourceError) -> None:
        """Record a problem on the run and carry on with the rest of the source."""

    def warn(self, warning: SourceError) -> None:
        """Record what degrades the source without failing it (an optional plugin is absent)."""


class Connector(Protocol):
    """One kind of source. Registered under the `badge_bridge.connectors` entry point."""

    kind: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]
    source_id: str

    def __init__(self, source_id: str, config: Any) -> None:
        """A connector for one configured source (`config` is an instance of `config_model`)."""

    @property
    def requests(self) -> Mapping[str, int]:
        """Requests made so far, by endpoint (empty for a source read from files)."""

    def check(self) -> list[str]:
        """Problems visible at start-up (bad token, missing function or capability)."""

    def pull(self, state: SourceState) -> Iterator[Batch]:
        """Batches of identities, facts and watermarks since the last run, in order."""

    def push(self, attestation: Attestation) -> PushResult:
        """Push one presence attestation back; raise SourceError to retry later."""

    def close(self) -> None:
        """Release connections."""
