"""Every file of an award written to a folder: OB 2.0 PNG/SVG, OB 3.0 JSON and baked PNG.

Used by `badge-bridge demo --output`; creates the signing keys if the data dir has none.
"""

from __future__ import annotations

import json
from pathlib import Path

from bridge.config import Config
from bridge.issuing.issuer import Issuer
from bridge.issuing.keys import KINDS, generate_key, load_keyring
from bridge.store import Award, Store

__all__ = ["write_award_files", "ensure_keys"]


def ensure_keys(config: Config) -> None:
    """Generate the kinds of key that are missing (the demo has no `keys generate` step)."""
    ring = load_keyring(config.bridge.keys_path)
    for kind in KINDS:
        if not ring.of(kind):
            generate_key(config.bridge.keys_path, kind)


def write_award_files(config: Config, store: Store, award: Award, out_dir: Path,
                      issuer: Issuer | None = None) -> list[Path]:
    """OUT/<id>.png|.svg (OB 2.0 hosted), OUT/ob3/<id>.json|.png (OB 3.0); returns the paths."""
    ensure_keys(config)
    issuer = issuer or Issuer(config, store)
    svg_only = issuer.badge(award.badge_id).image_type == "image/svg+xml"
    aid = award.id
    files: dict[Path, bytes] = {out_dir / f"{aid}.svg": issuer.baked(award, "ob2.svg"),
                                out_dir / "ob3" / f"{aid}.json":
                                    json.dumps(issuer.ob3_credential(award), indent=2).encode()}
    if svg_only:
        files[out_dir / "ob3" / f"{aid}.svg"] = issuer.baked(award, "ob3.svg")
    else:
        files[out_dir / f"{aid}.png"] = issuer.baked(award, "ob2.png")
        files[out_dir / "ob3" / f"{aid}.png"] = issuer.baked(award, "ob3.png")
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sorted(files)
