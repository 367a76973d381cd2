"""Alembic environment: runs migrations on the connection badge-bridge hands it."""

from alembic import context

from bridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("badge-bridge runs its migrations itself: use `badge-bridge db upgrade`")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
