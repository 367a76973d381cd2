"""The small hierarchy of errors callers catch by meaning, never by message text.

The CLI turns each class into one clear line and an exit code (see EXIT_CODES).
"""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "ConfigError",
    "RuleError",
    "TomlError",
    "SourceError",
    "PermanentSourceError",
    "FixableSourceError",
    "DeliveryError",
    "PermanentDeliveryError",
    "StoreError",
    "NotFound",
    "InvalidAddress",
    "CapacityError",
    "PayloadError",
    "EXIT_CODES",
    "exit_code",
    "raised_at",
]


class BridgeError(Exception):
    """Base of every error badge-bridge raises on purpose."""


class ConfigError(BridgeError):
    """A config file is missing, unreadable or invalid; names file, key and line."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.file, self.key, self.line, self.detail = file, key, line, message
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, key) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class RuleError(BridgeError):
    """One or more rule-file problems, each `file:line: what was expected`."""

    def __init__(self, problems: list[tuple[str, int | None, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(self.format_one(p) for p in problems))

    @staticmethod
    def format_one(problem: tuple[str, int | None, str]) -> str:
        file, line, message = problem
        return f"{file}:{line}: {message}" if line else f"{file}: {message}"


class TomlError(BridgeError):
    """A TOML file (config, rules) does not parse; `line` is where tomllib stopped."""

    def __init__(self, message: str, *, file: str, line: int | None) -> None:
        self.file, self.line, self.detail = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


class SourceError(BridgeError):
    """A source failed or sent something unusable; names source, endpoint, status, field,
    and, where an administrator can act, the fix (`fix`)."""

    retryable = True

    def __init__(self, message: str, *, source: str, endpoint: str = "",
                 status: int | None = None, field: str | None = None,
                 code: str | None = None, fix: str | None = None) -> None:
        self.source, self.endpoint, self.status, self.field, self.code, self.fix = (
            source, endpoint, status, field, code, fix)
        self.detail = message
        bits = [f"source {source}"]
        if endpoint:
            bits.append(endpoint)
        if status is not None:
            bits.append(f"HTTP {status}")
        if field:
            bits.append(f"field {field}")
        if code:
            bits.append(f"[{code}]")
        super().__init__(f"{' '.join(bits)}: {message}" + (f" — fix: {fix}" if fix else ""))


class PayloadError(SourceError):
    """The body is not what the endpoint promises (truncated, wrong type): retried, then reported."""


class PermanentSourceError(SourceError):
    """The platform refused, and no fix on our side or theirs changes it (the learner is not
    enrolled): the item ends."""

    retryable = False


class FixableSourceError(SourceError):
    """The platform refused for a reason an administrator can fix (a missing capability,
    function, switch or plugin; a bad token). Reported once per source and run with `fix`;
    the item is kept and retried at each run with backoff, and at once by `pushes retry`."""

    retryable = True


class DeliveryError(BridgeError):
    """An email or a push-back could not be delivered this time; it will be retried.
    `reason` is the kind of failure, as a run's summary groups them: smtp_unreachable,
    smtp_auth, recipient_deferred, recipient_refused, server_deferred, server_refused…"""

    retryable = True

    def __init__(self, message: str, *, reason: str = "delivery_failed") -> None:
        self.reason, self.detail = reason, message
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """A delivery that must not be retried (invalid address, permanent refusal)."""

    retryable = False


class StoreError(BridgeError):
    """The database is unreachable or its schema is not at the expected revision."""


class NotFound(BridgeError):
    """A thing named by the caller does not exist: an award, a learner, a badge, a source kind."""


class InvalidAddress(BridgeError):
    """Text that is not one email address; `address` is the text, `reason` why not."""

    def __init__(self, address: str, reason: str) -> None:
        self.address, self.reason = address, reason
        super().__init__(f"{address!r} is not an email address: {reason}")


class CapacityError(BridgeError):
    """A bounded resource is full (a queue, a lease, a rate limit); try again later."""


class CheckInRefused(BridgeError):
    """A meetup check-in that cannot be taken; `reason` says which refusal (the check-in page
    words it for the participant): not_open, closed, expired, forged, invalid_email,
    too_many, device_full, erased, no_link."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"check-in refused ({reason})" + (f": {detail}" if detail else ""))


EXIT_CODES: dict[type[BaseException], int] = {
    ConfigError: 2,
    RuleError: 3,
    SourceError: 4,
    DeliveryError: 5,
    StoreError: 6,
}


def exit_code(exc: BaseException) -> int:
    """The README's exit code for an error; 1 for anything without one."""
    for cls, code in EXIT_CODES.items():
        if isinstance(exc, cls):
            return code
    return 1


def raised_at(exc: BaseException) -> str:
    """`package/module.py:line` where `exc` was raised: the place of an unexpected error, told
    instead of its message (which may quote a learner's name or address)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    parts = tb.tb_frame.f_code.co_filename.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{tb.tb_lineno}"
