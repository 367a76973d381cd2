"""Baking: an Open Badge embedded in its image, in memory (no temporary files).

OB 2.0 uses openbadges-bakery (PNG iTXt / SVG `<openbadges:assertion>`) writing into a
BytesIO; OB 3.0 uses the `openbadgecredential` keyword (PNG) / `<openbadges:credential>` (SVG).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import png
from openbadges_bakery import png_bakery, svg_bakery

__all__ = ["bake_png", "unbake_png", "bake_svg", "as_svg", "bake_ob3_png", "bake_ob3_svg",
           "unbake_ob3_png"]

OB3_KEYWORD = b"openbadgecredential"
OB3_SVG_NS = "https://purl.imsglobal.org/ob/v3p0"


def _text(document: dict[str, Any] | str) -> str:
    return document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))


def bake_png(image: bytes, document: dict[str, Any] | str) -> bytes:
    """What openbadges-bakery writes (a test compares them): the `openbadges` iTXt chunk right
    after IHDR, any older one dropped; the image's chunks read once per image."""
    first, rest = _split(image, b"openbadges\x00")
    return b"".join((_SIGNATURE, first, _chunk(b"iTXt", b"openbadges\x00\x00\x00\x00\x00"
                                                + _text(document).encode()), rest))


_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk, as pypng writes it."""
    return b"".join((struct.pack("!I", len(data)), kind, data,
                     struct.pack("!I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF)))


@lru_cache(maxsize=64)
def _split(image: bytes, drop: bytes) -> tuple[bytes, bytes]:
    """The image's first chunk, and its other chunks up to IEND without the iTXt chunks whose
    text starts with `drop`, as written bytes (the badges of a run share a few images)."""
    chunks = [(kind, data) for kind, data in _chunks(image)
              if not (kind == b"iTXt" and data.startswith(drop))]
    return _chunk(*chunks[0]), b"".join(_chunk(k, d) for k, d in chunks[1:])


def unbake_png(image: bytes) -> str | None:
    return png_bakery.unbake(io.BytesIO(image))


def as_svg(image: bytes, media_type: str) -> bytes:
    """The badge image as SVG: itself, or a PNG wrapped in an SVG `<image>` of the same size."""
    if media_type == "image/svg+xml":
        return image
    header = png.Reader(bytes=image)
    header.preamble()  # the chunks before the image data: IHDR gives the size
    width, height = header.width, header.height
    data = base64.b64encode(image).decode()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<image width="{width}" height="{height}" xlink:href="data:image/png;base64,{data}"/>'
            f'</svg>').encode()


def bake_svg(svg: bytes, document: dict[str, Any] | str) -> bytes:
    out = io.BytesIO()
    svg_bakery.bake(io.BytesIO(svg), _text(document), out)
    return out.getvalue()


def _chunks(image: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The PNG's chunks up to IEND, their CRCs checked (pypng's chunk reader)."""
    return png.Reader(bytes=image).chunks()


def bake_ob3_png(image: bytes, credential: dict[str, Any] | str) -> bytes:
    """An iTXt chunk `openbadgecredential` (uncompressed UTF-8) before IEND; any older one dropped."""
    itxt = OB3_KEYWORD + b"\x00\x00\x00\x00\x00" + _text(credential).encode()
    first, rest = _split(image, OB3_KEYWORD + b"\x00")
    end = _chunk(b"IEND", b"")
    if not rest.endswith(end):
        raise ValueError("a PNG ends with IEND")
    return b"".join((_SIGNATURE, first, rest[:-len(end)], _chunk(b"iTXt", itxt), end))


def unbake_ob3_png(image: bytes) -> str | None:
    """The credential an OB 3.0 PNG carries (its iTXt text may be zlib-compressed), or None."""
    for kind, data in _chunks(image):
        if kind == b"iTXt" and data.startswith(OB3_KEYWORD + b"\x00"):
            k = len(OB3_KEYWORD)
            compressed = data[k + 1] == 1
            text = data[data.index(b"\x00", data.index(b"\x00", k + 3) + 1) + 1:]
            return (zlib.decompress(text) if compressed else text).decode()
    return None


def bake_ob3_svg(svg: bytes, credential: dict[str, Any] | str) -> bytes:
    """`<openbadges:credential>` holding the JSON in CDATA, first child of the root `<svg>`."""
    # '>' only occurs inside JSON strings, so escaping it keeps the same JSON and no "]]>".
    text = _text(credential).replace(">", "\\u003e")
    head, sep, rest = svg.decode().partition("<svg")
    end = rest.index(">")
    if rest[end - 1] == "/":
        raise ValueError("empty SVG root")
    return (head + sep + rest[:end] + f' xmlns:openbadges="{OB3_SVG_NS}">'
            + f"<openbadges:credential><![CDATA[{text}]]></openbadges:credential>"
            + rest[end + 1:]).encode()
