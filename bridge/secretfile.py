"""A secret kept in the keys folder (the meetups key, the erasure record's key): created once,
whole, private."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["create_once"]


def create_once(keys_dir: Path, name: str) -> Path:
    """`keys_dir/name` holding 32 random bytes in hexadecimal, created if absent: written whole
    to a private temporary file (0600 in a 0700 folder), then linked into place, so that two
    processes starting together agree on the first one linked and none reads half a key."""
    path = keys_dir / name
    if path.exists():
        return path
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(keys_dir, 0o700)
    temp = keys_dir / f".{name}.{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path
