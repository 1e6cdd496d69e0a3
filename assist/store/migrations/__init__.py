"""Alembic migrations of the call store, run in code by :func:`assist.store.db.open_engine`."""
