"""OB 3.0 revocation by BitstringStatusList: each award gets one bit, set when it is revoked.

Indexes live in the `ob3_status` table; the unique (list, index) constraint settles races.
"""

from __future__ import annotations

import base64
import gzip
import secrets

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from bridge.store import Store
from bridge.store.schema import awards, ob3_status

__all__ = ["LIST_BITS", "status_index", "encoded_list", "revoked_indexes"]

# 16 KiB: the minimum size the spec asks for, so that one bit says little about one learner.
LIST_BITS = 131072
LIST_ID = 1


def status_index(store: Store, award_id: str) -> tuple[int, int]:
    """(list id, index) of an award, allocated on first use at a random free position."""
    for _ in range(50):
        with store.engine.begin() as conn:
            row = conn.execute(select(ob3_status.c.list_id, ob3_status.c.list_index)
                               .where(ob3_status.c.award_id == award_id)).first()
            if row is not None:
                return int(row.list_id), int(row.list_index)
            used = conn.execute(select(func.count()).select_from(ob3_status)).scalar_one()
            if used >= LIST_BITS:
                raise RuntimeError("the OB 3.0 status list is full")
        # A random position, so that neighbouring indexes do not reveal issuing order.
        try:
            with store.engine.begin() as conn:
                conn.execute(insert(ob3_status).values(award_id=award_id, list_id=LIST_ID,
                                                       list_index=secrets.randbelow(LIST_BITS)))
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate an OB 3.0 status index")


def revoked_indexes(store: Store, list_id: int = LIST_ID) -> list[int]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(
            select(ob3_status.c.list_index).join(awards, awards.c.id == ob3_status.c.award_id)
            .where(ob3_status.c.list_id == list_id, awards.c.status == "revoked")).scalars())


def encoded_list(indexes: list[int]) -> str:
    """Multibase base64url (prefix `u`) of the GZIP'd bitstring, first bit = index 0."""
    bits = bytearray(LIST_BITS // 8)
    for i in indexes:
        bits[i // 8] |= 0x80 >> (i % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")
