"""OB 3.0 status list: the bit of each award in a BitstringStatusList.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ob3_status",
        sa.Column("award_id", sa.String(length=36), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["award_id"], ["awards.id"], name=op.f("fk_ob3_status_award_id_awards"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("award_id", name=op.f("pk_ob3_status")),
        sa.UniqueConstraint("list_id", "list_index", name="uq_ob3_status_list_id"),
    )


def downgrade() -> None:
    op.drop_table("ob3_status")
