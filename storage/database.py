"""The Piccolo engine named by DATABASE_URL, and schema migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

#: Seconds a SQLite writer waits for another's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30


def engine_for(url: str) -> Engine:
    """SQLite for `sqlite:///path`, PostgreSQL for `postgres://…`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(unquote(parsed.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        _use_wal(path)
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
    return PostgresEngine(config={"dsn": url})


def _use_wal(path: Path) -> None:
    """WAL lets the web process read while a worker writes; the mode sticks to the file."""
    with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def bind_tables(engine: Engine) -> None:
    """Point every table at `engine` (tests switch between SQLite and PostgreSQL)."""
    from piccolo.conf.apps import Finder

    for table in Finder().get_table_classes():
        table._meta.db = engine


#: Connections per process: enough for the worker threads, few enough for many processes.
POOL_MAX_SIZE = 10


async def start_pool() -> None:
    """Open a PostgreSQL connection pool on the running loop (SQLite needs none)."""
    from storage.tables import Submission

    engine = Submission._meta.db
    if isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=1, max_size=POOL_MAX_SIZE)


async def close_pool() -> None:
    from storage.tables import Submission

    engine = Submission._meta.db
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


async def migrate() -> None:
    """Bring the schema up to date: what `just migrate` and the embedded run do."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise RuntimeError(f"database migration failed: {response.message}")
