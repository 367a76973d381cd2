"""What a learner receives: each award's Message-ID, and a learner's choice to hide their name
on their badges' pages.

Revision ID: 0005_learner
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_learner"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, also on SQLite: a batch copy of `learners` would drop the table, and
    # with it (ON DELETE CASCADE) every award, fact and identity of its learners.
    op.add_column("awards", sa.Column("message_id", sa.String(length=300), nullable=True))
    op.add_column("learners", sa.Column("hide_name", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("learners", "hide_name")
    op.drop_column("awards", "message_id")
