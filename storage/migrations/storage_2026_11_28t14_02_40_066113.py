"""Indexes the admin dashboard needs on production-sized data (issue 6, `just bench-admin`).

Expressions and operator classes Piccolo cannot declare, so raw SQL:
- `lower(email)` on submissions and uploads: the people search and the erasure match
  e-mails case-blind, which scanned all 100,000 submissions.
- PostgreSQL: `email varchar_pattern_ops`, so the lists' e-mail prefix search (`email LIKE
  'x%'`) is an index range scan: outside the C collation a plain index cannot serve LIKE.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
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
RAW_INDEXES = (
    "submissions_email_lower",
    "uploads_email_lower",
    "submissions_email_prefix",
    "uploads_email_prefix",
)


async def add_indexes() -> None:
    engine = engine_finder()
    for sql in PORTABLE:
        await engine.run_ddl(sql)
    if engine.engine_type != "postgres":
        return
    for sql in POSTGRES:
        await engine.run_ddl(sql)


async def drop_indexes() -> None:
    engine = engine_finder()
    for name in RAW_INDEXES:
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)

    return manager
