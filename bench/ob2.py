"""Open Badges 2.0 hosted awards per second: built and baked into the badge's PNG, then the
same with the award, its status-list slot and its email outbox item written to the store (a
batch of awards a transaction, as a run issues them). Beside them, measured in the same run:
building and baking alone (the part without the store), and writing each award in its own
transaction (how awards were written before). Prints one JSON object.

    python bench/ob2.py [--awards 2000] [--repeats 3] [--db sqlite|postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import BADGES, emit, make_awards, median, provenance, setup, wall

from bridge.issuing.issuer import Issuer
from bridge.issuing.ob2 import new_salt
from bridge.model import Batch, Identity
from bridge.store import Award, NewAward, NewOutboxItem
from jobs.evaluate import ISSUE_BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--awards", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", default="sqlite", help="sqlite (a file) or a PostgreSQL URL")
    args = parser.parse_args()
    n = args.awards
    with tempfile.TemporaryDirectory() as tmp:
        config, store = setup(Path(tmp), None if args.db == "sqlite" else args.db)
        issuer = Issuer(config, store, keep_badges=True)
        rnd = random.Random(7)

        def bake(awards: list[Award | None]) -> None:
            for a in awards:
                if a is not None:
                    issuer.baked(a, "ob2.png")

        sample = make_awards(store, n, email=False)
        bake(sample)  # locale data, images and dates read once

        def learners() -> list[int]:
            """n new learners (each repetition awards new people)."""
            tag = uuid.uuid4().hex[:8]
            emails = [f"l-{tag}-{i}@example.org" for i in range(n)]
            store.facts.ingest(0, Batch(identities=[Identity(source="bench", external_id=e, email=e)
                                                    for e in emails]))
            by_email = {p.email: p.id for p in store.facts.learners(store.facts.learner_ids()).values()}
            return [by_email[e] for e in emails]

        def new(ids: list[int]) -> list[tuple[NewAward, list[NewOutboxItem]]]:
            out = []
            now = datetime.now(UTC)
            for i, learner in enumerate(ids):
                award_id = str(uuid.uuid4())
                out.append((NewAward(
                    id=award_id, learner_id=learner, badge_id=BADGES[i % 3], period="1",
                    issued_at=now, salt=new_salt(), recipient_email=f"l{i}@example.org",
                    recipient_name="Zoé Dupont", lang="fr", rule_version="v1",
                    provenance=provenance(rnd), message_id=f"<award-{award_id}@badges.example.org>"),
                    [NewOutboxItem(key=f"email:{award_id}", channel="email",
                                   payload={"award_id": award_id, "kind": "award"})]))
            return out

        def with_store(batch: list[Any]) -> None:
            made: list[Award | None] = []
            for start in range(0, len(batch), ISSUE_BATCH):
                made += store.awards.create_many(batch[start:start + ISSUE_BATCH])
            assert all(made)
            bake(made)

        def one_by_one(batch: list[Any]) -> None:
            bake([store.awards.create(a, items) for a, items in batch])

        runs: dict[str, list[float]] = {"bake": [], "store": [], "one_by_one": []}
        for _ in range(args.repeats):
            runs["bake"].append(n / wall(lambda: bake(list(sample))))
            batched, single = new(learners()), new(learners())
            runs["store"].append(n / wall(lambda b=batched: with_store(b)))  # type: ignore[misc]
            runs["one_by_one"].append(n / wall(lambda b=single: one_by_one(b)))  # type: ignore[misc]
        store.close()
    rate = {k: median(v) for k, v in runs.items()}
    emit({"benchmark": "ob2", "awards": n, "repeats": args.repeats, "db": args.db.split(":")[0],
          "baseline_build_and_bake_per_second": round(rate["bake"]),
          "with_persist_and_outbox_per_second": round(rate["store"]),
          "with_persist_and_outbox_vs_baseline": round(rate["store"] / rate["bake"], 2),
          "one_transaction_per_award_per_second": round(rate["one_by_one"])})


if __name__ == "__main__":
    main()
