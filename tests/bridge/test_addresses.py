"""The plain-form shortcut of `email_address` gives exactly what email-validator gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.addresses import email_address, parsed_address
from bridge.errors import InvalidAddress


def _both(address: str) -> tuple[str | None, str | None]:
    out: list[str | None] = []
    for fn in (email_address, parsed_address):
        try:
            out.append(fn(address))
        except InvalidAddress:
            out.append(None)
    return out[0], out[1]


_LABEL = st.text("ab-0x9n.-", min_size=1, max_size=66)


@settings(max_examples=400, deadline=None)
@given(st.text("aZ0._%+'-\"é @", min_size=1, max_size=66), st.lists(_LABEL, max_size=3),
       st.sampled_from(["org", "x", "local", "test", "onion", "c0m", "123", "a-b", "ab--c", "é"]) | _LABEL)
def test_a_plain_address_is_taken_as_email_validator_gives_it(
        local: str, labels: list[str], tld: str) -> None:
    """A plain address (as ingest stores it) is taken as it is: exactly what email-validator
    would give back; any other is parsed by it, an invalid one refused."""
    shortcut, parsed = _both(local + "@" + ".".join([*labels, tld]))
    assert shortcut == parsed


@pytest.mark.parametrize("address", ["learner@example.org", "o'brien+x@sub.example.org",
                                     "a@x.local", "a@b.test", "a@0.a0", "a@ab--c.org", "A@Example.org",
                                     "a..b@example.org", "x" * 65 + "@example.org", "a@-x.org",
                                     " learner@example.org\n", "a@" + "b" * 64 + ".org"])
def test_known_forms_are_email_validators(address: str) -> None:
    shortcut, parsed = _both(address)
    assert shortcut == parsed


def test_a_plain_address_is_not_parsed_again(monkeypatch) -> None:
    import bridge.addresses as addresses

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed")
    monkeypatch.setattr(addresses, "validate_email", refuse)
    assert email_address("learner.one@example.org") == "learner.one@example.org"
    with pytest.raises(AssertionError):
        email_address("Learner.One@example.org")  # not the plain form: parsed
