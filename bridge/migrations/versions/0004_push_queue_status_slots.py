"""Push queue (learners whose presences the push routes have to see), and a status-list slot
for every award written before slots were allocated with the award.

Revision ID: 0004
Revises: 0003
"""

import secrets

import sqlalchemy as sa
from alembic import op

from bridge.errors import CapacityError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# As in bridge.store.awards when this revision was written; a migration does not follow later edits.
LIST_BITS = 131072
LIST_ID = 1


def upgrade() -> None:
    op.create_table(
        "pending_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"],
                                name=op.f("fk_pending_pushes_learner_id_learners"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_pushes")),
    )
    with op.batch_alter_table("pending_pushes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_pushes_learner_id"), ["learner_id"], unique=False)
    _fill_status_slots()


def _fill_status_slots() -> None:
    """Random free positions, as the store draws them, so that indexes do not reveal issue order."""
    awards = sa.table("awards", sa.column("id", sa.String))
    slots = sa.table("ob3_status", sa.column("award_id", sa.String), sa.column("list_id", sa.Integer),
                     sa.column("list_index", sa.Integer))
    conn = op.get_bind()
    used = set(conn.execute(sa.select(slots.c.list_index).where(slots.c.list_id == LIST_ID)).scalars())
    missing = list(conn.execute(sa.select(awards.c.id).where(
        awards.c.id.not_in(sa.select(slots.c.award_id))).order_by(awards.c.id)).scalars())
    if len(used) + len(missing) > LIST_BITS:
        raise CapacityError(f"{len(missing)} awards need a status-list slot, "
                           f"{LIST_BITS - len(used)} are free")
    rows = []
    for award_id in missing:
        index = secrets.randbelow(LIST_BITS)
        while index in used:
            index = secrets.randbelow(LIST_BITS)
        used.add(index)
        rows.append({"award_id": award_id, "list_id": LIST_ID, "list_index": index})
    if rows:
        conn.execute(sa.insert(slots), rows)


def downgrade() -> None:
    # The slots stay: an award's index is published in its credential and must not change.
    with op.batch_alter_table("pending_pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_pushes_learner_id"))
    op.drop_table("pending_pushes")
