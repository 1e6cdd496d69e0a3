"""Alembic environment: always online, on the connection that assist.store.db hands over."""

from __future__ import annotations

from alembic import context

from assist.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations through assist.store.db.open_engine()")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
