"""A local SMTP server (aiosmtpd) that keeps every message exactly as received.

Used by `badge-bridge demo` and by the tests: a real SMTP exchange, nothing mocked.
"""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["MailCatcher"]


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.catcher.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        if address.lower() in self.catcher.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.catcher._keep(envelope.original_content or envelope.content, envelope.rcpt_tos)
        return "250 Message accepted for delivery"


class MailCatcher:
    """Start with `.start()`; `.messages` holds parsed messages, `.raw` the bytes received."""

    def __init__(self, out_dir: Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 keep: bool = True) -> None:
        self.out_dir, self.keep = out_dir, keep
        self.received = 0  # messages accepted, kept or not
        self.raw: list[bytes] = []
        self.recipients: list[list[str]] = []
        self.refuse: set[str] = set()
        self.sessions = 0  # SMTP sessions opened (EHLO received)
        self._lock = threading.Lock()
        if port == 0:
            from bridge.web.server import free_port

            port = free_port(host)
        self.host, self.port = host, port
        self.controller = Controller(_Handler(self), hostname=host, port=port)

    def start(self) -> MailCatcher:
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def _keep(self, data: bytes, rcpt: list[str]) -> None:
        with self._lock:
            self.received += 1
            if not self.keep:  # a benchmark counts messages; keeping them would be its memory
                return
            self.raw.append(data)
            self.recipients.append(list(rcpt))
            if self.out_dir:
                n = len(list(self.out_dir.glob("*.eml"))) + 1
                (self.out_dir / f"{n:05d}.eml").write_bytes(data)

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(r, policy=policy.default) for r in self.raw]  # type: ignore[misc]
