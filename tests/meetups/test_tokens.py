"""The signed values of meetups: the QR token rotates every 30 s with the previous window still
accepted, is bound to its session, and nothing signed for one purpose passes for another; the
key is created once, private to its owner."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest

from bridge.errors import CheckInRefused
from bridge.meetups.tokens import WINDOW, Tokens, load_key

T0 = datetime(2026, 11, 14, 13, 0, 0, tzinfo=UTC)


def tampered(token: str) -> str:
    """The token with one character of its signature changed (never to itself). Not the last:
    base64's last character carries padding bits, and two spellings decode alike."""
    return token[:-5] + ("B" if token[-5] == "A" else "A") + token[-4:]


@pytest.fixture
def tokens(tmp_path) -> Tokens:
    return Tokens(load_key(tmp_path / "keys"))


def test_the_key_is_created_once_and_readable_by_its_owner_only(tmp_path) -> None:
    first = load_key(tmp_path / "keys")
    assert load_key(tmp_path / "keys") == first and len(first) == 32
    assert stat.S_IMODE((tmp_path / "keys" / "meetups.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["meetups.key"]


@pytest.mark.parametrize(("seconds_later", "verdict"), [
    (0, None), (WINDOW - 1, None), (WINDOW, None), (2 * WINDOW - 1, None),  # this and the previous window
    (2 * WINDOW, "expired"), (3600, "expired"), (-WINDOW, None), (-2 * WINDOW, "expired"),
])
def test_a_code_lives_for_its_window_and_the_next(tokens, seconds_later: int, verdict: str | None) -> None:
    start = datetime.fromtimestamp(tokens.window(T0) * WINDOW, UTC)
    token = tokens.qr("s-1", start)
    when = start + timedelta(seconds=seconds_later)
    if verdict is None:
        tokens.check_qr("s-1", token, when)
    else:
        with pytest.raises(CheckInRefused) as refused:
            tokens.check_qr("s-1", token, when)
        assert refused.value.reason == verdict


def test_a_code_rotates_and_belongs_to_its_session(tokens, tmp_path) -> None:
    assert tokens.qr("s-1", T0) != tokens.qr("s-1", T0 + timedelta(seconds=WINDOW))
    token = tokens.qr("s-1", T0)
    window, _, signature = token.partition(".")
    for session, bad in [("s-2", token), ("s-1", f"{int(window) + 1}.{signature}"),
                         ("s-1", f"{window}.{tampered(signature)}"), ("s-1", "garbage"), ("s-1", "")]:
        with pytest.raises(CheckInRefused) as refused:
            tokens.check_qr(session, bad, T0)
        assert refused.value.reason == "forged", bad
    other_key = Tokens(load_key(tmp_path / "elsewhere"))
    with pytest.raises(CheckInRefused):
        other_key.check_qr("s-1", token, T0)


def test_nothing_signed_for_one_purpose_passes_for_another(tokens) -> None:
    organiser = tokens.organiser("s-1", 3)
    assert tokens.organiser_claims(organiser) == ("s-1", 3)
    assert tokens.organiser_claims(tampered(organiser)) is None
    device = tokens.device(tokens.new_device())
    assert device is not None and tokens.device("forged.cookie") is None
    ticket = tokens.ticket("s-1", device, T0)
    assert tokens.ticket_device(ticket, "s-1", T0 + timedelta(minutes=14), 900) == device
    assert tokens.ticket_device(ticket, "s-1", T0 + timedelta(minutes=16), 900) is None
    assert tokens.ticket_device(ticket, "s-2", T0, 900) is None
    form = tokens.form("checkin:s-1", device)
    assert tokens.form_ok(form, "checkin:s-1", device)
    assert not tokens.form_ok(form, "checkin:s-1", "another-device")
    assert not tokens.form_ok(form, "organiser:s-1:1", device)
    confirm = tokens.confirm(7)
    assert tokens.confirm_id(confirm) == 7
    for token in (organiser, ticket, form):  # each kind is refused where another is expected
        assert tokens.confirm_id(token) is None
    assert tokens.organiser_claims(ticket) is None and tokens.organiser_claims(confirm) is None
    assert tokens.ticket_device(form, "s-1", T0, 900) is None
