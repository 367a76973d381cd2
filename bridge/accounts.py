"""Admin accounts' passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended profile), checked in constant time, re-hashed when the parameters change.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "verify_password", "needs_rehash", "MIN_LENGTH", "dummy_verify"]

MIN_LENGTH = 12
_hasher = PasswordHasher()
# Verified against when the account does not exist, so both answers take as long.
_DUMMY = _hasher.hash("badge-bridge: no such account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    verify_password(_DUMMY, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
