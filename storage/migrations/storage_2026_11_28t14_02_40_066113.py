"""Indexes the admin dashboard needs on production-sized data (issue 6, `just bench-admin`).

Piccolo declares the plain index on `hubspot_calls.object_id`; the others are expressions
or operator classes it cannot declare, so they are raw SQL:

- `lower(email)` on submissions and uploads: the people search and the erasure match
  e-mails case-blind, which scanned all 100,000 submissions.
- PostgreSQL: `email varchar_pattern_ops`, so the lists' e-mail prefix search (`email LIKE
  'x%'`) is an index range scan: outside the C collation a plain index cannot serve LIKE.
- PostgreSQL: trigrams of `lower(error)` (pg_trgm, when the server has it and lets us
  install it), so finding the audit rows whose error quotes an e-mail reads an index
  instead of all 1,000,000 rows. Without pg_trgm that search stays a table scan.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.engine import engine_finder

ID = "2026-11-28T14:02:40:066113"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for the admin dashboard's searches (#6)"

#: Expression indexes SQLite and PostgreSQL both build.
PORTABLE = (
    "CREATE INDEX IF NOT EXISTS submissions_email_lower ON submissions (lower(email))",
    "CREATE INDEX IF NOT EXISTS uploads_email_lower ON uploads (lower(email))",
)
#: Operator-class indexes only PostgreSQL has.
POSTGRES = (
    "CREATE INDEX IF NOT EXISTS submissions_email_prefix"
    " ON submissions (email varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS uploads_email_prefix ON uploads (email varchar_pattern_ops)",
)
#: Partial: only failed calls have an error to search.
TRIGRAMS = (
    "CREATE INDEX IF NOT EXISTS hubspot_calls_error_trigrams ON hubspot_calls"
    " USING gin (lower(error) gin_trgm_ops) WHERE error IS NOT NULL"
)
RAW_INDEXES = (
    "submissions_email_lower",
    "uploads_email_lower",
    "submissions_email_prefix",
    "uploads_email_prefix",
    "hubspot_calls_error_trigrams",
)


async def add_indexes() -> None:
    engine = engine_finder()
    for sql in PORTABLE:
        await engine.run_ddl(sql)
    if engine.engine_type != "postgres":
        return
    for sql in POSTGRES:
        await engine.run_ddl(sql)
    # A server without pg_trgm, or a role that may not install it, must not stop the
    # deploy: the savepoint undoes the failed attempt and the migration goes on.
    await engine.run_ddl("SAVEPOINT pg_trgm")
    try:
        await engine.run_ddl("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # asyncpg's error for a missing or forbidden extension
        await engine.run_ddl("ROLLBACK TO SAVEPOINT pg_trgm")
        reason = str(exc).splitlines()[0]
        print(f"pg_trgm unavailable ({reason}): the people search scans hubspot_calls")
        return
    await engine.run_ddl(TRIGRAMS)


async def drop_indexes() -> None:
    """pg_trgm stays: something else in the database may use it."""
    engine = engine_finder()
    for name in RAW_INDEXES:
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="HubSpotCall",
        tablename="hubspot_calls",
        column_name="object_id",
        db_column_name="object_id",
        params={"index": True},
        old_params={"index": False},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )
    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)

    return manager
