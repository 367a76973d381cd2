"""Time to issue + sign + bake one award in each format; prints one JSON object (milliseconds).

    .venv/bin/python bench/issue.py [--awards N]

Each award is new (no per-award cache helps); `first_*` is the cold cost of the first award
(contexts parsed, proof options canonicalised), the other figures are medians over N awards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.issuing import bake, dataintegrity  # noqa: E402
from bridge.issuing.files import ensure_keys  # noqa: E402
from bridge.issuing.images import default_badge_png  # noqa: E402
from bridge.issuing.issuer import Issuer  # noqa: E402
from bridge.issuing.ob2 import new_salt  # noqa: E402
from bridge.model import Batch, Identity  # noqa: E402
from bridge.store import Award, NewAward, Store  # noqa: E402
from connectors.registry import load as load_config  # noqa: E402


def setup(folder: Path) -> tuple[Issuer, Store]:
    (folder / "b.toml").write_text('[bridge]\npublic_url = "https://badges.example.org"\n'
                                   'data_dir = "data"\n[issuer]\nname = "Bench"\n')
    config = load_config(folder / "b.toml")
    ensure_keys(config)
    store = Store(f"sqlite:///{folder}/b.db")
    store.awards.publish_badge("bench", "v1", {"name": {"fr": "Badge"}, "description": {"fr": "Banc"},
                                       "criteria": {"fr": "Mesurer"}}, default_badge_png(256), "image/png")
    return Issuer(config, store), store


def new_award(store: Store) -> Award:
    email = f"{uuid.uuid4().hex}@example.org"
    store.facts.ingest(0, Batch(identities=[Identity(source="bench", external_id=email, email=email,
                                                     lang="fr")]))
    learner = store.facts.learner_by_email(email)
    assert learner is not None
    award = store.awards.create(NewAward(
        id=str(uuid.uuid4()), learner_id=learner.id, badge_id="bench", period="",
        issued_at=datetime.now(UTC).replace(microsecond=0), salt=new_salt(),
        recipient_email="a@example.org", recipient_name="A", lang="fr", rule_version="v1",
        provenance=[{"source": "s", "kind": "presence", "course": "c", "item": "r1",
                     "occurred_at": "2026-01-01T10:00:00Z"}]))
    assert award is not None
    return award


def ms(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=30)
    n = parser.parse_args().awards
    with tempfile.TemporaryDirectory() as tmp:
        issuer, store = setup(Path(tmp))
        awards = [new_award(store) for _ in range(n + 1)]
        first = awards.pop()
        cases = {
            "ob2_hosted_png": lambda a: issuer.baked(a, "ob2.png"),
            "ob2_hosted_svg": lambda a: issuer.baked(a, "ob2.svg"),
            "ob2_signed_rs256_png": lambda a: issuer.baked(a, "ob2-signed.png"),
            "ob3_eddsa_rdfc_2022_png": lambda a: issuer.baked(a, "ob3.png"),
            "ob3_vc_jwt": lambda a: issuer.ob3_jwt(a),
        }
        out: dict[str, Any] = {"awards": n, "unit": "ms"}
        out["first_ob3_eddsa_rdfc_2022_png"] = round(ms(lambda: issuer.baked(first, "ob3.png")), 2)
        for name, fn in cases.items():
            fresh = [new_award(store) for _ in range(n)] if name.startswith("ob3") else awards
            out[name] = round(statistics.median(ms(lambda a=a, fn=fn: fn(a)) for a in fresh), 2)
        unsigned = issuer.ob3_unsigned(awards[0])
        out["one_rdfc_canonicalisation"] = round(statistics.median(
            ms(lambda: dataintegrity.canonicalize(unsigned)) for _ in range(n)), 2)
        cred = issuer.ob3_credential(awards[0])
        image = default_badge_png(256)
        out["ob3_bake_png_only"] = round(statistics.median(
            ms(lambda: bake.bake_ob3_png(image, cred)) for _ in range(n)), 3)
        store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
