"""Badge images: the rule's own PNG/SVG, or a drawn default medallion when it has none.

Images are checked when badges are published, so a broken file fails before any award.
"""

from __future__ import annotations

import io
import math
from functools import cache
from pathlib import Path

import png

from bridge.errors import RuleError

__all__ = ["badge_image", "default_badge_png"]


@cache
def default_badge_png(size: int = 256) -> bytes:
    """A blue medallion with a lighter ring, drawn with pypng (no binary in the repository)."""
    c = (size - 1) / 2
    rows = []
    for y in range(size):
        row: list[int] = []
        for x in range(size):
            r = math.hypot(x - c, y - c) / c
            if r > 1:
                row += [0, 0, 0, 0]
            elif r > 0.86:
                row += [246, 178, 37, 255]
            elif r > 0.80:
                row += [255, 255, 255, 255]
            else:
                shade = int(40 * (1 - r))
                row += [11 + shade, 83 + shade, 148 + shade, 255]
        rows.append(row)
    out = io.BytesIO()
    png.Writer(size, size, greyscale=False, alpha=True).write(out, rows)
    return out.getvalue()


def badge_image(path: Path | None) -> tuple[bytes, str]:
    """(bytes, media type) of a badge image; a RuleError naming the file if it is neither."""
    if path is None:
        return default_badge_png(), "image/png"
    data = Path(path).read_bytes()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, "image/png"
    if b"<svg" in data[:1024]:
        return data, "image/svg+xml"
    raise RuleError([(str(path), None, "a badge image must be a PNG or an SVG file")])
