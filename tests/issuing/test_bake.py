"""Baking writes the chunks openbadges-bakery and pypng would write, reading an image once."""

from __future__ import annotations

import io
import json

import png
from openbadges_bakery import png_bakery

from bridge.issuing import bake
from bridge.issuing.images import default_badge_png

DOC = {"@context": "https://w3id.org/openbadges/v2", "name": "Médiateur <SNT>", "n": [1, 2]}


def test_an_ob2_png_is_the_bakerys_byte_for_byte_and_an_older_assertion_is_replaced() -> None:
    image = default_badge_png(128)
    expected = io.BytesIO()
    png_bakery.bake(io.BytesIO(image), json.dumps(DOC, separators=(",", ":")), expected)
    assert bake.bake_png(image, DOC) == expected.getvalue()
    assert bake.bake_png(bake.bake_png(image, {"old": True}), DOC) == expected.getvalue()
    assert json.loads(bake.unbake_png(bake.bake_png(image, DOC)) or "") == DOC


def test_an_ob3_png_carries_one_credential_before_iend() -> None:
    image = default_badge_png(128)
    kept = [(k, d) for k, d in png.Reader(bytes=image).chunks() if k != b"IEND"]
    expected = io.BytesIO()
    text = json.dumps(DOC, separators=(",", ":")).encode()
    png.write_chunks(expected, [*kept, (b"iTXt", bake.OB3_KEYWORD + b"\x00" * 5 + text), (b"IEND", b"")])
    assert bake.bake_ob3_png(image, DOC) == expected.getvalue()
    again = bake.bake_ob3_png(bake.bake_ob3_png(image, {"old": True}), DOC)
    assert again == expected.getvalue() and json.loads(bake.unbake_ob3_png(again) or "") == DOC
