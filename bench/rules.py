"""Rule evaluation throughput: learner×badge decisions per second on the hybrid example.

Prints one JSON object. Usage: python bench/rules.py [--learners 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from badge_rules import load_rules
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rules = load_rules(RULES)
    rnd = random.Random(args.seed)
    learners = [learner_facts(rnd, f"learner-{n}") for n in range(args.learners)]

    started = time.perf_counter()
    awarded: Counter[str] = Counter()
    for facts in learners:
        for badge, decision in rules.evaluate_all(facts, {}).items():
            awarded[badge] += decision.awarded
    all_seconds = time.perf_counter() - started

    # One badge at a time, as an incremental run re-evaluates a single badge per learner.
    started = time.perf_counter()
    for facts in learners:
        rules.evaluate("snt-rencontres", facts, {})
    one_seconds = time.perf_counter() - started

    evaluations = args.learners * len(rules.badges)
    print(json.dumps({
        "benchmark": "rules.evaluate",
        "rules": RULES.name,
        "learners": args.learners,
        "badges": len(rules.badges),
        "facts": sum(map(len, learners)),
        "seed": args.seed,
        "evaluations": evaluations,
        "seconds": round(all_seconds, 3),
        "evaluations_per_second": round(evaluations / all_seconds),
        "single_badge_evaluations_per_second": round(args.learners / one_seconds),
        "awarded": dict(sorted(awarded.items())),
    }))


if __name__ == "__main__":
    main()
