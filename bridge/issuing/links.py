"""Signed links a learner receives by email: their choice to hide their name, with no account.

itsdangerous signs the award id with a secret kept in the keys folder (created on first use,
owner-only, like the signing keys): whoever holds the link is the learner it was mailed to.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["LinkSigner", "link_secret"]

SECRET_FILE = "links.secret"


def link_secret(keys_dir: Path) -> str:
    path = keys_dir / SECRET_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:  # O_EXCL: two processes starting at once agree on the first one's secret
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip()


class LinkSigner:
    """`token(award_id)` for the email; `award_of(token)` is the award id, or None if forged."""

    def __init__(self, keys_dir: Path, purpose: str = "name-choice") -> None:
        self._serializer = URLSafeSerializer(link_secret(keys_dir), salt=purpose)

    def token(self, award_id: str) -> str:
        return self._serializer.dumps(award_id)

    def award_of(self, token: str) -> str | None:
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
