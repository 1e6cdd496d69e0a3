"""Opening the store: SQLite in the user data directory, or a team's PostgreSQL server.

Opening always brings the schema up to date by running the packaged Alembic migrations in
code, so neither an agent nor a supervisor ever has a set-up step.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from assist import paths
from assist.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "calls.sqlite3"
MIGRATION_LOCK_ID = 0x61737369  # "assi": one PostgreSQL advisory lock so agents migrate in turn
SQLITE_BUSY_MS = 10_000  # the review app and an overlay may write the same file at once


def default_url() -> str:
    return f"sqlite:///{paths.data_dir() / SQLITE_FILE}"


def resolve_url(url: str | None) -> str:
    """``url`` as given, or SQLite in the data directory when it is empty."""
    return url.strip() if url and url.strip() else default_url()


def describe(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def open_engine(url: str | None) -> Engine:
    """Connect to the store and run any pending migrations; StoreError says what to fix."""
    resolved = resolve_url(url)
    engine = _create(resolved)
    try:
        migrate(engine)
    except OperationalError as e:
        engine.dispose()
        raise StoreError(
            f"cannot reach the call store at {describe(resolved)} ({_first_line(e)}); check "
            "that the database server is running and store.url is right") from e
    except SQLAlchemyError as e:
        engine.dispose()
        raise StoreError(
            f"cannot prepare the call store at {describe(resolved)} ({_first_line(e)})") from e
    except CommandError as e:
        engine.dispose()
        raise StoreError(
            f"the call store at {describe(resolved)} has a schema this version of assist does "
            f"not know ({e}); upgrade assist on this machine") from e
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (Alembic, in code, packaged scripts)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"store.url {url!r} is not a database URL; use e.g. "
                         "postgresql+psycopg://user:password@host/db, or leave it empty") from e
    try:
        if parsed.get_backend_name() == "sqlite":
            return _create_sqlite(url)
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as e:
        # ImportError: SQLAlchemy knows the database, but its driver is not installed.
        raise StoreError(f"store.url {describe(url)}: unsupported database "
                         f"'{parsed.drivername}'; use sqlite or postgresql+psycopg") from e
    except OSError as e:
        raise StoreError(f"cannot create the folder for {describe(url)} ({e.strerror or e}); "
                         "check store.url") from e


def _create_sqlite(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000,
                                              "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the review app read while an overlay writes. With synchronous=NORMAL a commit
    # survives the process being killed (what the store promises); only a power cut may lose
    # the last few, which is worth the much shorter commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]
