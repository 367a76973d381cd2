"""The demo's files of an award, the did:web derived from the public URL, status list indexes."""

from __future__ import annotations

import json

import pytest

from bridge.issuing import bake, did
from bridge.issuing.files import write_award_files
from bridge.store import STATUS_LIST_BITS


def test_write_award_files_writes_both_formats_baked(world, tmp_path) -> None:
    award = world.award()
    out = tmp_path / "badges"
    paths = write_award_files(world.config, world.store, award, out)
    aid = award.id
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


def test_status_slots_are_allocated_with_the_award_stable_and_distinct(world) -> None:
    awards = [world.award() for _ in range(20)]
    slots = [a.status_slot for a in awards]
    assert slots == [world.store.awards.get(a.id).status_slot for a in awards]
    assert len(set(slots)) == 20
    assert all(s is not None and 0 <= s.list_index < STATUS_LIST_BITS for s in slots)
    world.store.awards.revoke(awards[3].id, "x")
    assert world.store.awards.revoked_slots() == [slots[3].list_index]
    credential = world.issuer.ob3_unsigned(awards[3])
    assert credential["credentialStatus"]["statusListIndex"] == str(slots[3].list_index)
