"""Loads a rules directory into a RuleSet and evaluates its badges for one learner.

All files are checked before anything fails, so one run reports every problem at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from bridge.errors import RuleError
from bridge.i18n import gettext as _
from bridge.model import Fact

from .badge import BadgeDef
from .evaluate import FactIndex, evaluate_node
from .explain import Decision, provenance
from .fast import Check, compile_condition
from .parser import ParsedFile, Problem, parse_file

__all__ = ["RuleSet", "load_rules", "rule_files"]

# A badge earned from undated facts still counts as held, but inside no date window.
_UNDATED = datetime.min.replace(tzinfo=UTC)


def rule_files(rules_dir: Path) -> list[Path]:
    """The badge files of a directory, in name order; `*.test.toml` hold test cases."""
    return sorted(p for p in rules_dir.glob("*.toml") if not p.name.endswith(".test.toml"))


class RuleSet:
    """Validated badges in dependency order (a badge after those its badge_held needs)."""

    def __init__(self, badges: Mapping[str, BadgeDef], requires: Mapping[str, set[str]]) -> None:
        self.badges: dict[str, BadgeDef] = dict(badges)
        self._checks: dict[str, Check] = {b: compile_condition(d.condition) for b, d in badges.items()}
        self._dependents: dict[str, set[str]] = {b: set() for b in badges}
        for badge, needs in requires.items():
            for need in needs:
                self._dependents[need].add(badge)

    def dependents(self, badge_id: str) -> set[str]:
        """Badges whose badge_held names `badge_id` directly: re-evaluate them when it changes."""
        return set(self._dependents.get(badge_id, ()))

    def holds(self, badge_id: str, facts: Sequence[Fact] | FactIndex, held: Mapping[str, datetime],
              *, since: datetime | None = None) -> bool:
        """The verdict of `evaluate` without its explanation: what a run asks of most learners.
        `facts` may be a FactIndex built once for several badges (then `since` is its own)."""
        index = facts if isinstance(facts, FactIndex) else FactIndex(facts, since)
        return self._checks[badge_id](index, held)

    def evaluate(self, badge_id: str, facts: Sequence[Fact], held: Mapping[str, datetime], *,
                 since: datetime | None = None) -> Decision:
        """Decide one badge; `held` maps badge ids held now to their issue date.

        `since` starts a renewal period: only facts that occurred from then on count.
        """
        return self._decide(self.badges[badge_id], FactIndex(facts, since), held)

    def evaluate_all(self, facts: Sequence[Fact], held: Mapping[str, datetime]) -> dict[str, Decision]:
        """Every badge for one learner, in dependency order; a badge awarded here counts as
        held (since its `earned_at`) for the badges after it."""
        index, now_held = FactIndex(facts), dict(held)
        decisions = {}
        for badge in self.badges.values():
            decision = decisions[badge.id] = self._decide(badge, index, now_held)
            if decision.awarded:
                now_held.setdefault(badge.id, decision.earned_at or _UNDATED)
        return decisions

    @staticmethod
    def _decide(badge: BadgeDef, index: FactIndex, held: Mapping[str, datetime]) -> Decision:
        tree = evaluate_node(badge.condition, index, held)
        facts = provenance(tree) if tree.value else []
        dated = [f.occurred_at for f in facts if f.occurred_at is not None]
        return Decision(badge.id, badge.version, tree.value, tree, facts,
                        max(dated) if dated else None)


def load_rules(rules_dir: str | Path,
               sources: Mapping[str, set[str] | None] | None = None) -> RuleSet:
    """Validate every badge file of `rules_dir`; raise RuleError listing all problems.

    `sources` maps each configured source id to its known course ids (None: any course);
    when given, a rule naming another source or course is an error.
    """
    rules_dir = Path(rules_dir)
    if not rules_dir.is_dir():
        raise RuleError([(str(rules_dir), None, _("rules directory not found"))])
    parsed = [parse_file(p, sources) for p in rule_files(rules_dir)]
    problems = [problem for p in parsed for problem in p.problems]
    badges: dict[str, ParsedFile] = {}
    for p in parsed:
        if p.badge is None:
            continue
        first = badges.get(p.badge.id)
        if first is not None:
            problems.append((p.file, p.id_line, "badge.id: " + _("'{id}' is already defined in {where}")
                             .format(id=p.badge.id, where=f"{first.file}:{first.id_line}")))
        else:
            badges[p.badge.id] = p
    problems += _unknown_refs(parsed, badges)
    order, cycle = _dependency_order(badges)
    problems += cycle
    if problems:
        raise RuleError(problems)
    if not parsed:
        raise RuleError([(str(rules_dir), None, _("no badge rules ({pattern}) in this directory")
                          .format(pattern="*.toml"))])
    requires = {b: {ref for ref, _, _ in badges[b].refs} for b in order}
    return RuleSet({b: _badge(badges[b]) for b in order}, requires)


def _badge(parsed: ParsedFile) -> BadgeDef:
    assert parsed.badge is not None  # only valid files are indexed
    return parsed.badge


def _unknown_refs(parsed: list[ParsedFile], badges: Mapping[str, ParsedFile]) -> list[Problem]:
    problems = []
    known = sorted(badges)
    for p in parsed:
        for ref, line, where in p.refs:
            if ref not in badges:
                close = difflib.get_close_matches(ref, known, n=1)
                hint = " (" + _("did you mean '{word}'?").format(word=close[0]) + ")" if close else ""
                problems.append((p.file, line, f"{where}: " + _(
                    "unknown badge '{badge}'{hint}; known badges: {known}").format(
                    badge=ref, hint=hint, known=", ".join(known) or _("none"))))
    return problems


def _dependency_order(badges: Mapping[str, ParsedFile]) -> tuple[list[str], list[Problem]]:
    """Badges sorted so that each comes after those it needs (ties by id), and every cycle."""
    needs = {b: {r for r, _, _ in p.refs if r in badges} for b, p in badges.items()}
    problems: list[Problem] = []
    while True:
        sorter = TopologicalSorter(needs)
        try:
            sorter.prepare()
        except CycleError as exc:
            loop = _as_needs(exc.args[1])
            parsed = badges[loop[0]]
            line, where = next((ln, w) for r, ln, w in parsed.refs if r == loop[1])
            problems.append((parsed.file, line, f"{where}: " + _("cycle between badges {cycle}")
                             .format(cycle=" -> ".join(loop))))
            needs[loop[0]].discard(loop[1])  # broken here, so that the next cycle shows
            continue
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order += ready
            sorter.done(*ready)
        return order, problems


def _as_needs(cycle: list[str]) -> list[str]:
    """graphlib's cycle (each node needed by the next) as `a -> b -> a`, a needing b, from its
    smallest id: the same message whatever node the search started from."""
    needing = list(reversed(cycle[:-1]))
    start = needing.index(min(needing))
    loop = needing[start:] + needing[:start]
    return loop + loop[:1]
