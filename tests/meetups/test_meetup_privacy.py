"""What meetups keep about people: erasing a learner takes their check-ins too (also one typed
with another address and linked to them), an erased address cannot check in again, and the
pages carry no inline script or style (the security headers' policy can forbid them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.errors import CheckInRefused
from bridge.model import Batch, Identity

TEMPLATES = Path(__file__).resolve().parents[2] / "bridge" / "templates" / "web" / "meetups"


def test_erasing_a_learner_erases_their_check_ins(meetup, phone) -> None:
    session = meetup.session()
    meetup.store.facts.ingest(1, Batch(identities=[Identity("lms", "9", email="camille@academie.fr")]))
    phone().check_in(meetup.qr_url(session), "camille@academie.fr")
    phone().check_in(meetup.qr_url(session), "camille@perso.example")
    phone().check_in(meetup.qr_url(session), "someone.else@example.org")
    perso = meetup.store.meetups.checkin_of(session.id, "camille@perso.example")
    meetup.store.meetups.link_address(perso.id, "camille@academie.fr")
    counts = meetup.store.erasure.erase("camille@academie.fr", "request")
    assert counts["check_ins"] == 2
    assert [c.email for c in meetup.store.meetups.checkins(session.id, removed=True)] == [
        "someone.else@example.org"]
    with pytest.raises(CheckInRefused) as refused:
        meetup.desk.check_in(session, "camille@academie.fr", "organiser")
    assert refused.value.reason == "erased"
    assert phone.outcome(phone().check_in(meetup.qr_url(session), "camille@academie.fr")) == "erased"
    assert [c.email for c in meetup.store.meetups.checkins(session.id)] == ["someone.else@example.org"]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.j2")))
def test_pages_have_no_inline_script_or_style(template: str) -> None:
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    assert "<style" not in source and not re.search(r"\sstyle=", source)
    assert not re.search(r"\son[a-z]+=", source), "no event handler attributes"
    for script in re.findall(r"<script[^>]*>", source):
        assert 'src="{{ static_url }}' in script, script
