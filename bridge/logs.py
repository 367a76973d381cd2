"""Logs: one line per event, carrying the run, source and course it happened in; JSON when
the reader is a program (stderr is not a terminal, or `--log-json`); never a secret.

`context(run=…, source=…, course=…)` sets what the lines logged inside it carry (context
variables: a thread started inside, such as a pool's, starts without them). Every line goes
through `redact`, which masks the password of a URL (`postgresql://user:***@host/db`) and every
secret value `register_secret` was given (the config's tokens and passwords).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from bridge.redact import mask_urls

__all__ = ["context", "setup", "redact", "register_secret", "register_secrets_of", "mask_url",
           "NOISY"]

_RUN: ContextVar[int | None] = ContextVar("badge_bridge_run", default=None)
_SOURCE: ContextVar[str | None] = ContextVar("badge_bridge_source", default=None)
_COURSE: ContextVar[str | None] = ContextVar("badge_bridge_course", default=None)

# Libraries that speak at INFO of their own business: WARNING unless -vv.
NOISY = ("alembic", "apscheduler", "urllib3", "requests", "celery", "kombu", "uvicorn.access",
         "aiosmtpd", "mail.log")

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def mask_url(text: str) -> str:
    """`text` with every URL's password and secret query values replaced by *** (one masking
    for logs, errors and outputs: bridge.redact)."""
    return mask_urls(text)


def register_secret(value: str | None) -> None:
    """A value never to be printed (short ones are ignored: they would mask ordinary words)."""
    if value and len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def register_secrets_of(obj: Any, _seen: set[int] | None = None) -> None:
    """Register every pydantic SecretStr/SecretBytes found inside a config object."""
    from pydantic import BaseModel, SecretBytes, SecretStr

    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, SecretStr):
        try:
            register_secret(obj.get_secret_value())
        except Exception:  # a secret read when first used that cannot be read yet: not printed either
            pass
    elif isinstance(obj, SecretBytes):
        register_secret(obj.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            register_secrets_of(getattr(obj, name, None), seen)
    elif isinstance(obj, dict):
        for value in obj.values():
            register_secrets_of(value, seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            register_secrets_of(value, seen)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            register_secrets_of(getattr(obj, name, None), seen)


def redact(text: str) -> str:
    """`text` with URL passwords and registered secrets masked."""
    text = mask_url(text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


@contextmanager
def context(*, run: int | None = None, source: str | None = None,
            course: str | None = None) -> Iterator[None]:
    """Lines logged inside carry these (the ones not given are kept from outside)."""
    tokens: list[tuple[Any, Any]] = []
    if run is not None:
        tokens.append((_RUN, _RUN.set(run)))
    if source is not None:
        tokens.append((_SOURCE, _SOURCE.set(source)))
    if course is not None:
        tokens.append((_COURSE, _COURSE.set(course)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            try:
                var.reset(token)
            except ValueError:  # closed from another context (a generator collected late)
                var.set(token.old_value if token.old_value is not token.MISSING else None)


class _Context(logging.Filter):
    """Puts the run, source and course on each record, and masks secrets in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("run", _RUN), ("source", _SOURCE), ("course", _COURSE)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        where = " ".join(f"{k}={getattr(record, k)}" for k in ("run", "source", "course")
                         if getattr(record, k, None) is not None)
        line = (f"{datetime.fromtimestamp(record.created, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} "
                f"{record.levelname} {record.name}" + (f" [{where}]" if where else "")
                + f": {record.getMessage()}")
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "run": getattr(record, "run", None), "source": getattr(record, "source", None),
            "course": getattr(record, "course", None), "message": record.getMessage()}
        for key in ("award", "reason", "endpoint", "step"):
            if getattr(record, key, None) is not None:
                doc[key] = getattr(record, key)
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the line (a test's capture, a redirect)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup(verbosity: int = 0, *, as_json: bool | None = None, stream: Any = None) -> None:
    """Configure the root logger once for a command: WARNING, INFO with -v, DEBUG with -vv
    (the libraries in NOISY stay at WARNING below -vv); JSON when `as_json`, or when it is None
    and the stream is not a terminal."""
    out = stream or sys.stderr
    if as_json is None:
        as_json = not (hasattr(out, "isatty") and out.isatty())
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.addFilter(_Context())
    handler.setFormatter(_Json() if as_json else _Text())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_badge_bridge", False)]:
        root.removeHandler(old)
    handler._badge_bridge = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbosity >= 2 else logging.WARNING)
