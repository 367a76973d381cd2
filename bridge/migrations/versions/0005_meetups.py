"""Meetup sessions, their check-ins, and the check-in page's rate-limit counters.

Revision ID: 0005_meetups
Revises: 0005_learner
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_meetups"
down_revision = "0005_learner"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meetup_sessions",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("town", sa.String(100), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(100), nullable=False),
        sa.Column("confirm", sa.String(20), nullable=False),
        sa.Column("organiser_email", sa.String(320)),
        sa.Column("push_to", sa.String(100)),
        sa.Column("push_target", sa.String(300)),
        sa.Column("link_generation", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetup_sessions")),
    )
    op.create_index(op.f("ix_meetup_sessions_source"), "meetup_sessions", ["source"])
    op.create_table(
        "meetup_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(100), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("device", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS),
        sa.ForeignKeyConstraint(["session_id"], ["meetup_sessions.id"], ondelete="CASCADE",
                                name=op.f("fk_meetup_checkins_session_id_meetup_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetup_checkins")),
        sa.UniqueConstraint("session_id", "email", name="uq_meetup_checkins_session_id"),
    )
    op.create_index("ix_meetup_checkins_device", "meetup_checkins", ["session_id", "device"])
    op.create_table(
        "meetup_throttle",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meetup_throttle")),
    )
    op.create_index(op.f("ix_meetup_throttle_expires_at"), "meetup_throttle", ["expires_at"])


def downgrade() -> None:
    op.drop_table("meetup_throttle")
    op.drop_table("meetup_checkins")
    op.drop_table("meetup_sessions")
