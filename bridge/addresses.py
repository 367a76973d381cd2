"""Email addresses as they enter badge-bridge: parsed by email-validator, never by a regex.

An address is the learner's identity across sources and the envelope of every email we send,
so only what parses as one address (no display name, no comment, no second address) is kept,
lower-cased; everything else is refused with the reason, in the caller's words.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from bridge.errors import InvalidAddress

__all__ = ["email_address", "MAX_EMAIL"]

MAX_EMAIL = 254  # RFC 5321's limit on a path, and what the store's columns hold


def email_address(text: str) -> str:
    """The normalised (lower-cased) address in `text`; InvalidAddress saying why otherwise."""
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
