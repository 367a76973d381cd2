"""What the output benchmarks share: a configured issuer on a temporary store, awards made in
bulk, medians, and the one JSON object each prints.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.config import Config  # noqa: E402
from bridge.issuing.files import ensure_keys  # noqa: E402
from bridge.issuing.images import default_badge_png  # noqa: E402
from bridge.issuing.ob2 import new_salt  # noqa: E402
from bridge.model import Batch, Identity  # noqa: E402
from bridge.store import Award, NewAward, NewOutboxItem, Store  # noqa: E402
from connectors.registry import load as load_config  # noqa: E402

NAMES = ["Alice Martin", "Zoé Dupont", "Jean-Baptiste Leroy", "Li Wei", "Éloïse Garnier",
         "Mohamed Benali", "Chloé Lefèvre", "Tom Smith", "Inès Moreau", "Lucas Bernard"]
BADGES = ("snt-mooc", "snt-rencontres", "snt-projet")


def provenance(rnd: random.Random) -> list[dict[str, Any]]:
    """A meetup session (shared by many learners) and a course completed at its own moment."""
    done = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=rnd.randrange(60 * 86400))
    return [{"source": "moodle", "kind": "presence", "course": "87", "item": f"s-{rnd.randrange(8)}",
             "title": "Rencontre SNT", "place": "La Fabrique", "occurred_at": "2026-01-01T10:00:00Z"},
            {"source": "fun", "kind": "course_completion", "course": "course-v1:inria+41018+session05",
             "course_name": "SNT", "item": "", "occurred_at": done.isoformat().replace("+00:00", "Z")}]


def setup(folder: Path, db_url: str | None = None, **smtp: Any) -> tuple[Config, Store]:
    """A configured issuer with keys and three published badges (PNG images)."""
    lines = ['[bridge]', 'public_url = "https://badges.example.org"', 'data_dir = "data"',
             '[issuer]', 'name = "Tiers-lieu de la Fabrique"', 'url = "https://fabrique.example.org"',
             'email = "badges@fabrique.example.org"', '[smtp]',
             *(f"{k} = {json.dumps(v)}" for k, v in smtp.items())]
    (folder / "b.toml").write_text("\n".join(lines) + "\n")
    config = load_config(folder / "b.toml")
    ensure_keys(config)
    store = Store(db_url or config.bridge.db_url)
    for n, badge in enumerate(BADGES):
        store.awards.publish_badge(badge, "v1", {
            "name": {"fr": f"Médiateur SNT {n}", "en": f"SNT mediator {n}"},
            "description": {"fr": "A suivi le MOOC et les rencontres.", "en": "Followed the MOOC."},
            "criteria": {"fr": "Suivre le MOOC SNT et venir à deux rencontres.",
                         "en": "Follow the SNT MOOC and come to two meetups."},
            "renewable": n == 0}, default_badge_png(256), "image/png")
    return config, store


def make_awards(store: Store, n: int, *, email: bool = True, seed: int = 7) -> list[Award]:
    """`n` awards to distinct learners (fr and en, accented names), each with its email queued."""
    rnd = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    people = [(f"learner-{tag}-{i}@example.org", rnd.choice(NAMES), rnd.choice(["fr", "en"]))
              for i in range(n)]
    store.facts.ingest(0, Batch(identities=[Identity(source="bench", external_id=e, email=e,
                                                     fullname=name, lang=lang)
                                            for e, name, lang in people]))
    ids = {p.email: p.id for p in store.facts.learners(store.facts.learner_ids()).values()}
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    awards = []
    for i, (addr, name, lang) in enumerate(people):
        award_id = str(uuid.uuid4())
        badge = BADGES[i % len(BADGES)]
        made = store.awards.create(NewAward(
            id=award_id, learner_id=ids[addr], badge_id=badge, period="1",
            issued_at=issued + timedelta(seconds=i), expires_at=issued + timedelta(days=365) if badge == BADGES[0] else None,
            salt=new_salt(), recipient_email=addr, recipient_name=name, lang=lang,
            rule_version="v1", provenance=provenance(rnd), message_id=f"<award-{award_id}@badges.example.org>"),
            [NewOutboxItem(key=f"email:{award_id}", channel="email",
                           payload={"award_id": award_id, "kind": "award"})] if email else [])
        assert made is not None
        awards.append(made)
    return awards


def cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of this process (all its threads) spent in `fn`."""
    started = time.process_time()
    fn()
    return time.process_time() - started


def wall(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def emit(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)
