"""The store as the store tests see it: an empty store on SQLite or PostgreSQL, and shortcuts
to record events into it and read a call back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from store_fixtures import temporary_database

from assist.config import StoreConfig
from assist.events import Event
from assist.store import StoreSink, queries
from assist.store.db import open_engine, session_factory
from assist.store.schema import Call

PG_ENV = "ASSIST_TEST_PG_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: a SQLite file, or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'calls.sqlite3'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"{PG_ENV} is not set: run through scripts/test, or start a server with "
                    "scripts/lib/postgres.sh (pg_start DIR PORT)")
    with temporary_database(server) as url:
        yield url


def record(url: str, events: list[Event], **store: object) -> None:
    sink = StoreSink(url, StoreConfig(**store))  # type: ignore[arg-type]
    for event in events:
        sink(event)
    sink.close()


def load_call(url: str, call_id: str) -> Call:
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            call = queries.get_call(session, call_id)
            assert call is not None, f"call {call_id} not in the store"
            return call
    finally:
        engine.dispose()


def only_call(url: str) -> Call:
    """The one call in a store that should hold exactly one."""
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            [call_id] = session.scalars(select(Call.id)).all()
            call = queries.get_call(session, call_id)
            assert call is not None
            return call
    finally:
        engine.dispose()
