"""The demo's files of an award, the did:web derived from the public URL, status list indexes."""

from __future__ import annotations

import json

import pytest

from bridge.issuing import bake, did, status
from bridge.issuing.files import write_award_files


def test_write_award_files_writes_both_formats_baked(world, tmp_path) -> None:
    award = world.award()
    out = tmp_path / "badges"
    paths = write_award_files(world.config, world.store, award, out)
    aid = award["id"]
    assert {p.relative_to(out).as_posix() for p in paths} == {
        f"{aid}.png", f"{aid}.svg", f"ob3/{aid}.json", f"ob3/{aid}.png"}
    credential = json.loads((out / "ob3" / f"{aid}.json").read_text())
    assert json.loads(bake.unbake_ob3_png((out / "ob3" / f"{aid}.png").read_bytes()) or "") == credential
    assert world.issuer.urls.assertion(aid) in (out / f"{aid}.svg").read_text()
    assert json.loads(bake.unbake_png((out / f"{aid}.png").read_bytes()) or "")["id"].endswith(aid)


@pytest.mark.parametrize("url, expected, path", [
    ("https://badges.example.org", "did:web:badges.example.org", "/.well-known/did.json"),
    ("http://127.0.0.1:8123", "did:web:127.0.0.1%3A8123", "/.well-known/did.json"),
    ("https://example.org/tiers-lieu/badges", "did:web:example.org:tiers-lieu:badges", "/did.json"),
])
def test_did_web_is_derived_from_the_public_url(url, expected, path) -> None:
    assert did.did_web(url) == expected
    assert did.did_document_path(url) == path


def test_status_indexes_are_stable_and_distinct(world) -> None:
    awards = [world.award() for _ in range(20)]
    first = [status.status_index(world.store, a["id"]) for a in awards]
    assert first == [status.status_index(world.store, a["id"]) for a in awards]
    assert len(set(first)) == 20 and all(0 <= i < status.LIST_BITS for _, i in first)
    world.store.revoke(awards[3]["id"], "x")
    assert status.revoked_indexes(world.store) == [first[3][1]]
