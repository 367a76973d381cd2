"""What the web console asks of the layers above the core: the seam between `bridge.web.console`
(which may not import the rule engine, the jobs or the connectors) and `jobs.console` (which
implements it). The command line builds the implementation and hands it to the web app.

Everything crossing is a plain frozen dataclass with its texts already in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.model import Finding

__all__ = ["WhyNode", "Explanation", "RuleBadge", "DryRun", "WouldAward", "WouldRevoke",
           "SendOutcome", "Erased", "ConsoleServices", "Doctor"]


@dataclass(frozen=True, slots=True)
class WhyNode:
    """One condition of a rule, evaluated: met or not, what is missing, the facts behind it."""

    label: str
    met: bool
    missing: str | None
    facts: tuple[str, ...] = ()
    children: tuple[WhyNode, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    badge_id: str
    version: str
    awarded: bool
    tree: WhyNode


@dataclass(frozen=True, slots=True)
class RuleBadge:
    """A badge as its rule file says now: names, the file, its text, its version, its condition."""

    id: str
    name: str
    version: str
    file: str
    text: str
    condition: str  # the condition in words, one line per node (a Markdown list)
    expires_after: str | None = None
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WouldAward:
    email: str
    badge_id: str
    period: str


@dataclass(frozen=True, slots=True)
class WouldRevoke:
    email: str
    badge_id: str
    award_id: str


@dataclass(frozen=True, slots=True)
class DryRun:
    """The rule files as they are now, against the stored facts; nothing written. `problems`
    are the files' errors (file:line: message): when there are any, nothing was evaluated."""

    badges: int = 0
    problems: tuple[str, ...] = ()
    would_award: tuple[WouldAward, ...] = ()
    would_no_longer_grant: tuple[WouldRevoke, ...] = ()


@dataclass(frozen=True, slots=True)
class SendOutcome:
    sent: int
    retry: int
    failed: int


@dataclass(frozen=True, slots=True)
class Erased:
    """What a learner's erasure removed."""

    facts: int
    identities: int
    deliveries_cancelled: int
    awards_revoked: int
    report_rows: int


# The health check (`badge-bridge doctor`): its findings, in the language in force when called.
Doctor = Callable[[], Sequence[Finding]]


class ConsoleServices(Protocol):
    """The console's actions and views that need the rule engine, the delivery job or the
    connectors. `lang` is the page's language for every text returned."""

    def badges(self, lang: str) -> list[RuleBadge]: ...

    def explain(self, email: str, badge_id: str, lang: str) -> Explanation | None: ...

    def dry_run(self) -> DryRun: ...

    def resend(self, award_id: str) -> SendOutcome: ...

    def revoke(self, award_id: str, reason: str) -> bool: ...

    def erase(self, email: str) -> Erased | None: ...

    def link_checkin(self, checkin_id: int, email: str) -> bool: ...


@dataclass
class ConsoleSetup:
    """What the web app is handed to serve the console: the services, and optionally the health
    check whose findings the dashboard lists."""

    services: ConsoleServices
    doctor: Doctor | None = None


__all__ += ["ConsoleSetup"]
