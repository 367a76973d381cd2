"""Baking: an Open Badge embedded in its image, in memory (no temporary files).

PNG uses openbadges-bakery's iTXt `openbadges` chunk, written into a BytesIO.
"""

from __future__ import annotations

import io
import json
from typing import Any

from openbadges_bakery import png_bakery

__all__ = ["bake_png", "unbake_png"]


def bake_png(image: bytes, document: dict[str, Any] | str) -> bytes:
    payload = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    out = io.BytesIO()
    png_bakery.bake(io.BytesIO(image), payload, out)
    return out.getvalue()


def unbake_png(image: bytes) -> str | None:
    return png_bakery.unbake(io.BytesIO(image))
