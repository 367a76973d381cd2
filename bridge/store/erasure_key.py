"""The key of the erasure record: what is kept of an erased learner is HMAC-SHA256(key, digest of
their address), so that the database alone (a dump, a backup) does not tell whether a given
address was erased — an unkeyed hash can be checked by trying addresses.

The key is `erasure.key` in the keys folder (0600 in a 0700 folder, created on first erasure,
like the signing keys: kept apart from the database). Rows written before the key existed hold
the unkeyed digest (`keyed` false); `rekey` rewrites them as HMAC(key, digest), which needs no
address. The store finds the key through its engine (`attach`), so every path that writes
facts (a pull, a push's read-back, a check-in) checks erasures the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select, update

from bridge.errors import StoreError
from bridge.secretfile import create_once
from bridge.store.schema import erasures

__all__ = ["ErasureKey", "KEY_FILE", "attach", "key_of", "legacy_digest", "keyed", "candidates",
           "record"]

KEY_FILE = "erasure.key"
_KEYS: WeakKeyDictionary[Engine, ErasureKey] = WeakKeyDictionary()


def legacy_digest(email: str) -> str:
    """The unkeyed digest of an address (what erasures held before the key)."""
    return hashlib.sha256(f"badge-bridge-erasure:{email.strip().lower()}".encode()).hexdigest()


def keyed(digest: str, key: bytes) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


@dataclass
class ErasureKey:
    """The key of one store, read from (or created in) `keys_dir` when first needed."""

    keys_dir: Path | None
    _key: bytes | None = field(default=None, repr=False)

    def get(self, create: bool = False) -> bytes | None:
        if self._key is not None:
            return self._key
        if self.keys_dir is None:
            if create:
                raise StoreError("erasing a learner needs the keys folder ([bridge] keys_dir), "
                                 "where the erasure record's key is kept")
            return None
        path = self.keys_dir / KEY_FILE
        if not path.exists():
            if not create:
                return None
            _create(self.keys_dir, path)
        try:
            text = path.read_text(encoding="ascii").strip()
            self._key = bytes.fromhex(text)
        except (OSError, UnicodeDecodeError, ValueError):
            raise StoreError(f"{path}: unreadable erasure key (64 hexadecimal digits expected)") from None
        if len(self._key) < 32:
            self._key = None
            raise StoreError(f"{path}: erasure key too short (64 hexadecimal digits expected)")
        return self._key


def _create(keys_dir: Path, path: Path) -> None:
    create_once(keys_dir, path.name)


def attach(engine: Engine, keys_dir: Path | None) -> ErasureKey:
    found = _KEYS[engine] = ErasureKey(keys_dir)
    return found


def key_of(conn: Connection) -> ErasureKey:
    return _KEYS.get(conn.engine) or ErasureKey(None)


def candidates(conn: Connection, email: str) -> list[str]:
    """The values an erasure row of `email` may hold: the keyed HMAC, and the unkeyed digest of
    rows not rewritten yet. StoreError when keyed rows exist but the key is not at hand (they
    could not be recognised: an erased learner would come back)."""
    digest = legacy_digest(email)
    key = key_of(conn).get()
    if key is None:
        if conn.execute(select(erasures.c.email_hash).where(erasures.c.keyed).limit(1)).first():
            raise StoreError(f"the erasure record's key ({KEY_FILE} in the keys folder) is missing; "
                             "restore it from a backup: without it erased learners are not recognised")
        return [digest]
    return [keyed(digest, key), digest]


def record(conn: Connection, email: str) -> tuple[str, bool]:
    """What to write for an erasure of `email`: (HMAC, True); the key is created if need be."""
    key = key_of(conn).get(create=True)
    assert key is not None
    return keyed(legacy_digest(email), key), True


def rekey(engine: Engine) -> int:
    """Rewrite the unkeyed rows as HMAC(key, digest) when the key is at hand (created if there
    are rows to rewrite); how many were rewritten."""
    provider = _KEYS.get(engine)
    if provider is None or provider.keys_dir is None:
        return 0
    with engine.begin() as conn:
        rows = conn.execute(select(erasures.c.email_hash).where(~erasures.c.keyed)).scalars().all()
        if not rows:
            return 0
        key = provider.get(create=True)
        assert key is not None
        for digest in rows:
            conn.execute(update(erasures).where(erasures.c.email_hash == digest).values(
                email_hash=keyed(digest, key), keyed=True))
        return len(rows)
