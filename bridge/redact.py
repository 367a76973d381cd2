"""What may leave badge-bridge in a line of text: secrets in URLs masked, personal data left out.

`mask_url` hides a URL's password and the values of its secret-bearing query parameters;
`scrub` does it for every URL inside a text and replaces email addresses; `db_error` describes
a database error by its class and SQLSTATE only, since the drivers' messages quote the rows
(learners' emails and names) that were being written.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "mask_url", "mask_urls", "scrub", "db_error", "SECRET_PARAMS", "RedactFilter"]

MASK = "***"
# Query parameters that carry a credential on the platforms badge-bridge talks to (Moodle's
# wstoken, OAuth's access_token…) and in database URLs (libpq's password).
SECRET_PARAMS = frozenset({
    "password", "passwd", "pwd", "pass", "token", "wstoken", "access_token", "refresh_token",
    "id_token", "client_secret", "secret", "api_key", "apikey", "key", "sig", "signature",
    "auth", "authorization", "sslpassword", "t",
})
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_EMAIL = re.compile(r"[^\s@'\"<>()\[\],;:]+@[^\s@'\"<>()\[\],;:]+\.[^\s@'\"<>()\[\],;:]+")


def mask_url(url: str) -> str:
    """`url` with its password and secret query values replaced by ***; unparseable: masked whole
    past the scheme."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
                query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                                  safe="*")
        if netloc == parts.netloc and query == parts.query:
            return url  # nothing to mask: as given (urlunsplit would drop sqlite:////'s slashes)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}{sep}{MASK}" if sep else MASK


def mask_urls(text: str) -> str:
    """Every URL in `text` masked (see mask_url)."""
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


class RedactFilter(logging.Filter):
    """A log handler's filter: the secrets of every URL in a record's message masked (a library
    logging the URL it calls, a database URL in an error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_urls(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def scrub(text: str) -> str:
    """Every URL in `text` masked (see mask_url) and every email address replaced by <email>."""
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _EMAIL.sub("<email>", text)


def db_error(exc: BaseException) -> str:
    """A database error in words that quote no row: its class and SQLSTATE (PostgreSQL)."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    name = type(orig).__name__
    return f"database error {name}" + (f" (SQLSTATE {state})" if state else "")
