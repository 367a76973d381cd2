"""Email addresses as they enter badge-bridge: parsed by email-validator.

An address is the learner's identity across sources and the envelope of every email we send,
so only what parses as one address (no display name, no comment, no second address) is kept,
lower-cased; everything else is refused with the reason, in the caller's words.

One shortcut: an address already in the plain lower-case form email-validator gives back
(letters, digits, `._%+'-`, a dotted domain of letters, digits and hyphens ending in letters,
not under a special-use name) is that form, and is taken as it is (about 40 µs saved per
address: every learner of a pull, every email sent). A property test checks the shortcut
against email-validator (tests/bridge/test_addresses.py); anything else is parsed.
"""

from __future__ import annotations

import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from bridge.errors import InvalidAddress

__all__ = ["email_address", "MAX_EMAIL"]

MAX_EMAIL = 254  # RFC 5321's limit on a path, and what the store's columns hold

# An address of this plain form, lower-case, is what email-validator returns for it.
_PLAIN = re.compile(r"(?=[^@]{1,64}@)[a-z0-9_%+'-]+(?:\.[a-z0-9_%+'-]+)*"
                    r"@(?:(?!-)(?!..--)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{1,63}\Z")


def email_address(text: str) -> str:
    """The normalised (lower-cased) address in `text`; InvalidAddress saying why otherwise."""
    candidate = text.strip()
    if len(candidate) <= MAX_EMAIL and _PLAIN.match(candidate) and not _special_use(candidate):
        return candidate
    return parsed_address(text)


def _special_use(address: str) -> bool:
    """Under a name email-validator refuses (`local`, `test`, …: its own list, as it reads it)."""
    domain = address.rsplit("@", 1)[1]
    return any(domain == d or domain.endswith("." + d)
               for d in email_validator.SPECIAL_USE_DOMAIN_NAMES)


def parsed_address(text: str) -> str:
    """`email_address` without its shortcut: always parsed by email-validator."""
    candidate = text.strip()
    if not candidate:
        raise InvalidAddress(text, "empty")
    try:
        parsed = validate_email(candidate, check_deliverability=False,
                                allow_display_name=False, allow_quoted_local=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(text, str(exc)) from None
    normalised = parsed.normalized.lower()
    if len(normalised) > MAX_EMAIL:
        raise InvalidAddress(text, f"longer than {MAX_EMAIL} characters")
    return normalised
