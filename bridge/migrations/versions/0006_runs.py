"""Runs that tell the truth: who runs them (host, pid) and their heartbeat, so that a killed run
is seen as interrupted; where each error happened (step, reason, a learner reference); which run
holds an outbox item's lease, so that the next run takes over the items of a killed one.

Revision ID: 0006_runs
Revises: 0005_meetups
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_runs"
down_revision = "0005_meetups"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(255)))
        batch_op.add_column(sa.Column("pid", sa.Integer()))
        batch_op.add_column(sa.Column("heartbeat_at", TS))
        batch_op.add_column(sa.Column("resumed", sa.JSON()))
        batch_op.create_index(batch_op.f("ix_runs_status"), ["status"], unique=False)
    with op.batch_alter_table("run_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(20), nullable=False, server_default="pull"))
        batch_op.add_column(sa.Column("reason", sa.String(100)))
        batch_op.add_column(sa.Column("learner", sa.String(100)))
        batch_op.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_run", sa.Integer()))
        batch_op.add_column(sa.Column("failure_reason", sa.String(100)))
    # A run left "running" by an older version cannot be told from a live one: it is closed.
    runs = sa.table("runs", sa.column("status", sa.String), sa.column("finished_at", TS))
    op.get_bind().execute(sa.update(runs).where(runs.c.status == "running").values(
        status="interrupted"))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
        batch_op.drop_column("lease_run")
    with op.batch_alter_table("run_errors", schema=None) as batch_op:
        batch_op.drop_column("count")
        batch_op.drop_column("learner")
        batch_op.drop_column("reason")
        batch_op.drop_column("step")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_status"))
        batch_op.drop_column("resumed")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
