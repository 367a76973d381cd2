"""Signing keys: RSA (OB 2.0 JWS RS256) and Ed25519 (OB 3.0), kept as owner-only PEM files.

The newest key of a kind signs; older ones stay in the folder and stay published, so
badges signed before a rotation still verify. Key material is never logged.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bridge.errors import ConfigError

__all__ = ["Key", "Keyring", "KeyKind", "generate_key", "load_keyring"]

KeyKind = Literal["rsa", "ed25519"]
KINDS: tuple[KeyKind, ...] = ("rsa", "ed25519")


@dataclass(frozen=True)
class Key:
    kind: KeyKind
    kid: str
    created: str
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def public_raw(self) -> bytes:
        """The 32 raw bytes of an Ed25519 public key."""
        assert isinstance(self.private, ed25519.Ed25519PrivateKey)
        return self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)

    def __repr__(self) -> str:  # never show the private key, even in a traceback
        return f"Key({self.kind}, {self.kid})"


@dataclass(frozen=True)
class Keyring:
    """Every key of the folder, oldest first per kind; `current(kind)` signs."""

    keys: tuple[Key, ...]

    def of(self, kind: KeyKind) -> list[Key]:
        return [k for k in self.keys if k.kind == kind]

    def current(self, kind: KeyKind) -> Key:
        keys = self.of(kind)
        if not keys:
            raise ConfigError(f"no {kind} signing key: run `badge-bridge keys generate`")
        return keys[-1]

    def get(self, kid: str) -> Key | None:
        return next((k for k in self.keys if k.kid == kid), None)


def _kid(private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def generate_key(keys_dir: Path, kind: KeyKind, now: datetime | None = None) -> Key:
    """Create one key file (mode 0600, in a 0700 folder) and return it."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
        else ed25519.Ed25519PrivateKey.generate())
    created = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    kid = _kid(private)
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(keys_dir, 0o700)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = keys_dir / f"{kind}-{created}-{kid}.pem"
    # O_EXCL + mode at creation: the file is never readable by others, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return Key(kind, kid, created, private)


@cache
def _read(path: Path, mtime: float) -> Key:
    kind, created, kid = path.stem.split("-", 2)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) or kind not in KINDS:
        raise ConfigError(f"{path.name}: not an RSA or Ed25519 private key")
    return Key(kind, kid, created, private)  # type: ignore[arg-type]


def load_keyring(keys_dir: Path) -> Keyring:
    """All keys in the folder (parsed once per file), oldest first; read again only when the
    folder changed (a key added or removed changes its modification time)."""
    try:
        info = keys_dir.stat()
    except OSError:
        return Keyring(())
    if not stat.S_ISDIR(info.st_mode):
        return Keyring(())
    return _keyring(keys_dir, info.st_mtime_ns)


@lru_cache(maxsize=16)
def _keyring(keys_dir: Path, stamp: int) -> Keyring:
    paths = sorted(p for p in keys_dir.glob("*.pem") if p.stem.split("-", 1)[0] in KINDS)
    return Keyring(tuple(_read(p, p.stat().st_mtime) for p in paths))
