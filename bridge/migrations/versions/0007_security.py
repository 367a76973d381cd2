"""The erasure record becomes a keyed HMAC: rows written before are marked unkeyed, and are
rewritten as HMAC(key, their hash) the first time the store is opened with its keys folder
(bridge.store.erasure_key), since the key lives in that folder, not in the database.

Revision ID: 0007_security
Revises: 0005_meetups
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_security"
down_revision = "0008_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, also on SQLite (no batch copy of the table).
    op.add_column("erasures", sa.Column("keyed", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("erasures", "keyed")
