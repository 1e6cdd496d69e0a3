"""The call store: schema, migrations, redaction, the pipeline's writer and the queries.

SQLite in the user data directory by default; a PostgreSQL URL (store.url) for a team.
"""

from assist.store.db import open_engine, session_factory
from assist.store.redaction import redact
from assist.store.writer import StoreSink

__all__ = ["StoreSink", "open_engine", "redact", "session_factory"]
