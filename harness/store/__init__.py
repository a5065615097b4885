"""The results store: SQL tables (SQLite by default, PostgreSQL by URL), migrations, the submission queue
and result ingestion. It knows no ML: it reads and writes the harness's JSON documents."""

from harness.store.db import connect, migrate, session_scope

__all__ = ["connect", "migrate", "session_scope"]
