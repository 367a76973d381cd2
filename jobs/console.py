"""The web console's services (bridge.console.ConsoleServices): the "why not" tree, the rule
files as they are now and their dry run, re-send, revoke, erase, linking a meetup check-in.

The command line (`badge-bridge admin erase` and `learners erase` alike) and the console call
the same functions here, so both do exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from badge_rules import ExplainNode, FactRef, RuleSet, describe, load_rules
from bridge import i18n
from bridge.config import Config
from bridge.console import (
    DryRun,
    Erased,
    Explanation,
    RuleBadge,
    SendOutcome,
    WhyNode,
    WouldAward,
    WouldRevoke,
)
from bridge.errors import BridgeError, RuleError, TomlError
from bridge.i18n import gettext as _
from bridge.store import Store
from jobs.deliver import deliver_emails
from jobs.evaluate import candidates, decide, explain_learner

__all__ = ["Console", "erase_learner", "forget_in_files"]


def forget_in_files(config: Config, email: str) -> int:
    """Rows carrying `email` removed from the files the sources keep (FUN's kept reports)."""
    from connectors.registry import REGISTRY

    removed = 0
    for sid, source in config.sources.items():
        connector = REGISTRY.make(sid, source)
        try:
            forget = getattr(connector, "forget", None)
            removed += forget(email) if forget else 0
        finally:
            connector.close()
    return removed


def erase_learner(config: Config, store: Store, email: str) -> Erased | None:
    """Erase a learner (GDPR art. 17): facts and identities deleted, awards revoked and stripped,
    the sources' kept files cleaned. None if no learner has this email."""
    # The reason shows on the badges' pages: in the issuer's language.
    with i18n.language(config.bridge.default_language):
        reason = _("erased at the learner's request (GDPR)")
    counts = store.erasure.erase(email, reason)
    if counts is None:
        return None
    rows = forget_in_files(config, email)
    return Erased(facts=counts["facts"], identities=counts["identities"],
                  deliveries_cancelled=counts["deliveries_cancelled"],
                  awards_revoked=counts["awards_revoked"], report_rows=rows)


def _fact(fact: FactRef) -> str:
    """The fact as the run keeps it, with the names the platform gave (course, activity)."""
    names = [text for _attr, text in fact.names]
    return f"{fact} ({', '.join(names)})" if names else str(fact)


def _why(node: ExplainNode, lang: str) -> WhyNode:
    return WhyNode(label=node.label(lang), met=node.value, missing=node.missing(lang),
                   facts=tuple(_fact(f) for f in node.facts),
                   children=tuple(_why(c, lang) for c in node.children))


@dataclass
class Console:
    """ConsoleServices over one config and one store; the rule files are read at each call, so
    the console always shows them as they are on disk."""

    config: Config
    store: Store

    def _rules(self) -> RuleSet:
        return load_rules(self.config.bridge.rules_dir, self.config.source_courses())

    def badges(self, lang: str) -> list[RuleBadge]:
        ruleset = self._rules()
        out = []
        for badge in ruleset.badges.values():
            path = Path(badge.file)
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            out.append(RuleBadge(
                id=badge.id, name=badge.text(lang, "name"), version=badge.version, file=badge.file,
                text=text, condition=describe(badge.condition, lang),
                expires_after=str(badge.expires_after) if badge.expires_after else None,
                needs=tuple(sorted(b for b in ruleset.badges if badge.id in ruleset.dependents(b)))))
        return out

    def explain(self, email: str, badge_id: str, lang: str) -> Explanation | None:
        ruleset = self._rules()
        if badge_id not in ruleset.badges:
            return None
        found = explain_learner(self.store, ruleset, email, badge_id)
        if found is None:
            return None
        decision = found[0]
        return Explanation(decision.badge, decision.version, decision.awarded, _why(decision.tree, lang))

    def dry_run(self) -> DryRun:
        try:
            ruleset = self._rules()
        except RuleError as exc:
            return DryRun(problems=tuple(RuleError.format_one(p) for p in exc.problems))
        except (TomlError, BridgeError) as exc:
            return DryRun(problems=(str(exc),))
        decisions = decide(self.store, ruleset, candidates(self.store, ruleset, everyone=True)[0])
        return DryRun(
            badges=len(ruleset.badges),
            would_award=tuple(WouldAward(d.email, d.badge_id, d.period) for d in decisions.to_award),
            would_no_longer_grant=tuple(WouldRevoke(r.email or "", r.badge_id, r.award_id)
                                        for r in decisions.no_longer_granted))

    def resend(self, award_id: str) -> SendOutcome:
        """The award's email due again, then the email queue delivered now."""
        self.store.outbox.reset(f"email:{award_id}")
        counts = deliver_emails(self.config, self.store)
        return SendOutcome(counts.sent, counts.retry, counts.failed)

    def revoke(self, award_id: str, reason: str) -> bool:
        """Revoked now; the learner's revocation email is sent now too (else at the next run)."""
        revoked = self.store.awards.revoke(award_id, reason)
        if revoked:
            try:
                deliver_emails(self.config, self.store)
            except BridgeError:
                pass  # the email stays queued: the next run sends it
        return revoked

    def erase(self, email: str) -> Erased | None:
        return erase_learner(self.config, self.store, email)

    def link_checkin(self, checkin_id: int, email: str) -> bool:
        return self.store.meetups.link_address(checkin_id, email)
