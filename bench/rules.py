"""Rule evaluation throughput on the hybrid example, beside a hand-written baseline.

Learner×badge decisions per second three ways over the same facts: the same four conditions
written by hand in plain Python (the baseline), the rule set's compiled verdicts (what a run
uses), and its explained evaluation (what `rules explain` and an award's provenance use). All
three must award the same learners. Prints one JSON object.

    python bench/rules.py [--learners 20000] [--seed 7] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from badge_rules import RuleSet, load_rules
from badge_rules.evaluate import FactIndex
from bridge.model import Fact, FactKind

RULES = Path(__file__).resolve().parents[1] / "badge_rules" / "examples" / "hybrid-teacher-training"
SNT, PYTHON = "course-v1:inria+41018+session05", "course-v1:inria+41028+session01"
START = datetime(2025, 9, 1, tzinfo=UTC)


def learner_facts(rnd: random.Random, learner: str) -> list[Fact]:
    """A plausible mix: most start the MOOC, fewer finish, some come to meetups."""
    def fact(kind: FactKind, source: str, course: str, item: str = "",
             value: float | None = 1.0, **attrs: str | list[str]) -> Fact:
        when = START + timedelta(days=rnd.randrange(300), hours=rnd.randrange(24))
        if kind is FactKind.presence:
            attrs["session_date"] = when.date().isoformat()
        return Fact(source=source, external_id=learner, kind=kind, course=course, item=item,
                    value=value, occurred_at=when, attrs=attrs)

    facts = [fact(FactKind.enrolment, "fun", SNT), fact(FactKind.enrolment, "moodle", "87")]
    if rnd.random() < 0.7:
        facts.append(fact(FactKind.course_completion, "fun", SNT))
        facts.append(fact(FactKind.grade, "fun", SNT, value=round(rnd.uniform(0.3, 1.0), 2)))
    for session in rnd.sample(range(1, 9), rnd.choice([0, 1, 2, 2, 3])):
        facts.append(fact(FactKind.presence, "moodle", "87", f"s-{session}",
                          tags=["temps-de-rencontre"], place="La Fabrique"))
    if rnd.random() < 0.5:
        facts.append(fact(FactKind.activity_completion, "moodle", "87", "1204"))
        facts.append(fact(FactKind.grade, "moodle", "87", "1204", round(rnd.random(), 2)))
    if rnd.random() < 0.3:
        facts.append(fact(FactKind.course_completion, "fun", PYTHON))
    return facts


MEETUPS = (datetime(2025, 9, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
PYTHON_YEAR = (datetime(2025, 9, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC))


def by_hand(facts: list[Fact]) -> dict[str, bool]:
    """The baseline: the four conditions of the hybrid example written as plain Python over
    the same facts, as someone would without a rule language (one pass, then the decisions)."""
    mooc_done = mooc_grade = project_done = project_grade = python = False
    sessions: set[str] = set()
    for f in facts:
        done = f.value is None or f.value > 0
        if f.source == "fun" and f.course == SNT:
            if f.kind in (FactKind.certificate, FactKind.course_completion) and done:
                mooc_done = True
            elif f.kind is FactKind.grade and f.item == "" and (f.value or 0) >= 0.6 - 1e-9:
                mooc_grade = True
        elif f.source == "fun" and f.course == PYTHON and f.kind is FactKind.course_completion:
            python = python or (done and f.occurred_at is not None
                                and PYTHON_YEAR[0] <= f.occurred_at < PYTHON_YEAR[1])
        elif f.source == "moodle" and f.course == "87":
            if f.kind is FactKind.presence and done:
                tags = f.attrs.get("tags", [])
                day = datetime.fromisoformat(str(f.attrs["session_date"])).replace(tzinfo=UTC)
                if ("temps-de-rencontre" in [t.casefold() for t in tags]
                        and MEETUPS[0] <= day < MEETUPS[1]):
                    sessions.add(f.item)
            elif f.kind is FactKind.activity_completion and f.item == "1204" and done:
                project_done = True
            elif f.kind is FactKind.grade and f.item == "1204" and (f.value or 0) >= 0.5 - 1e-9:
                project_grade = True
    mooc, meetups, project = mooc_done and mooc_grade, len(sessions) >= 2, project_done and project_grade
    return {"snt-mooc": mooc, "snt-rencontres": meetups, "snt-projet": project,
            "snt-micro-certificat": mooc and (meetups + project + python) >= 2}


def compiled(rules: RuleSet, facts: list[Fact]) -> dict[str, bool]:
    """What a run decides: each badge's compiled verdict, in dependency order."""
    held: dict[str, datetime] = {}
    out = {}
    index = FactIndex(facts)
    for badge in rules.badges:
        out[badge] = rules.holds(badge, index, held)
        if out[badge]:
            held[badge] = START
    return out


def rates(works: dict[str, Callable[[list[Fact]], dict[str, bool]]], learners: list[list[Fact]],
          repeats: int) -> dict[str, tuple[float, Counter[str]]]:
    """Learner×badge decisions per second of each way (median of `repeats`, the ways taking
    turns so that a busy machine slows them alike), and what each awarded."""
    seconds: dict[str, list[float]] = {name: [] for name in works}
    awarded: dict[str, Counter[str]] = {}
    for _ in range(repeats):
        for name, work in works.items():
            awarded[name] = Counter()
            started = time.perf_counter()
            for facts in learners:
                for badge, yes in work(facts).items():
                    awarded[name][badge] += yes
            seconds[name].append(time.perf_counter() - started)
    return {name: (len(learners) * 4 / statistics.median(seconds[name]), awarded[name])
            for name in works}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rules = load_rules(RULES)
    rnd = random.Random(args.seed)
    learners = [learner_facts(rnd, f"learner-{n}") for n in range(args.learners)]

    measured = rates({
        "baseline": by_hand,
        "compiled": lambda facts: compiled(rules, facts),
        "explained": lambda facts: {b: d.awarded for b, d in rules.evaluate_all(facts, {}).items()},
    }, learners, args.repeats)
    (baseline, expected), (fast, awarded), (explained, explained_awarded) = measured.values()
    if not awarded == explained_awarded == expected:
        raise SystemExit(f"the evaluators disagree: {awarded} {explained_awarded} {expected}")
    print(json.dumps({
        "benchmark": "rules",
        "rules": RULES.name,
        "learners": args.learners,
        "badges": len(rules.badges),
        "facts": sum(map(len, learners)),
        "seed": args.seed,
        "repeats": args.repeats,
        "baseline_by_hand_per_second": round(baseline),
        "compiled_per_second": round(fast),
        "compiled_vs_baseline": round(fast / baseline, 2),
        "explained_per_second": round(explained),
        "explained_vs_baseline": round(explained / baseline, 2),
        "awarded": dict(sorted(awarded.items())),
    }))


if __name__ == "__main__":
    main()
