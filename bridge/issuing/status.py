"""OB 3.0 revocation by BitstringStatusList: each award has one bit, set when it is revoked.

The store allocates the bits (a random free index when the award is written); this encodes the list.
"""

from __future__ import annotations

import base64
import gzip

from bridge.store import STATUS_LIST_BITS

__all__ = ["encoded_list"]


def encoded_list(indexes: list[int]) -> str:
    """Multibase base64url (prefix `u`) of the GZIP'd bitstring, first bit = index 0."""
    bits = bytearray(STATUS_LIST_BITS // 8)
    for i in indexes:
        bits[i // 8] |= 0x80 >> (i % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")
