"""Evaluation queue (learners with changed facts) and GDPR erasures.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"],
                                name=op.f("fk_pending_evaluations_learner_id_learners"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_evaluations")),
    )
    with op.batch_alter_table("pending_evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_evaluations_learner_id"), ["learner_id"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email_hash", name=op.f("pk_erasures")),
    )


def downgrade() -> None:
    op.drop_table("erasures")
    with op.batch_alter_table("pending_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_evaluations_learner_id"))
    op.drop_table("pending_evaluations")
