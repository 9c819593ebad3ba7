"""Versioned schema migrations of the job database.

Each migration is frozen SQL with a version number; the ``schema_migrations`` table records which ones ran.
`migrate` applies the missing ones in one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the previous
version intact and concurrent openers apply each migration once. A database newer than this code is refused.

Version 1 is the seed jobs table of the original design; version 2 adds what runners need (stage, progress,
attempts, a lease, a cancel request and a dead-letter time). Never edit a released migration: append one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime

import attrs

from dubkit.errors import JobError
from dubkit.jobs.clock import format_time
from dubkit.jobs.connection import immediate

__all__ = ["MIGRATIONS", "Migration", "latest_version", "migrate", "schema_version"]

logger = logging.getLogger(__name__)


@attrs.frozen
class Migration:
    """One step of the schema.

    Attributes:
        version: Its number, 1, 2, ... without gaps.
        name: A short description, stored with the version.
        statements: The SQL it runs, in order.
    """

    version: int
    name: str
    statements: tuple[str, ...]


_SEED = Migration(
    version=1,
    name="create the jobs table",
    statements=(
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            original_filename TEXT NOT NULL,
            source_language TEXT NOT NULL DEFAULT 'auto',
            target_language TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'uploaded'
                CHECK (status IN ('uploaded', 'processing', 'completed', 'failed', 'cancelled')),
            input_path TEXT,
            output_path TEXT,
            input_size INTEGER,
            output_size INTEGER,
            processing_time_seconds REAL,
            error_message TEXT,
            job_metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT
        )
        """,
        "CREATE INDEX idx_jobs_user_id ON jobs (user_id)",
        "CREATE INDEX idx_jobs_status ON jobs (status)",
        "CREATE INDEX idx_jobs_created_at ON jobs (created_at)",
        "CREATE INDEX idx_jobs_updated_at ON jobs (updated_at)",
    ),
)

_RUNNER_COLUMNS = Migration(
    version=2,
    name="add stage, progress, attempts, lease, cancel request and dead-letter columns",
    statements=(
        "ALTER TABLE jobs ADD COLUMN stage TEXT",
        "ALTER TABLE jobs ADD COLUMN progress REAL NOT NULL DEFAULT 0.0",
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_token TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_expires_at TEXT",
        "ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT",
        "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN dead_lettered_at TEXT",
        "CREATE INDEX idx_jobs_claim ON jobs (status, created_at)",
        "CREATE INDEX idx_jobs_lease_expires_at ON jobs (lease_expires_at)",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_SEED, _RUNNER_COLUMNS)
"""Every migration this code knows, in order."""

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The version a database has once every migration in ``migrations`` ran."""
    return max((m.version for m in migrations), default=0)


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version: 0 for a fresh file.

    Raises:
        JobError: The database cannot be read.
    """
    try:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if exists is None:
            return 0
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.Error as exc:
        raise JobError(f"cannot read the job database's schema version: {exc}") from exc
    return int(row[0] or 0)


def _check(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise JobError(f"migrations must be numbered 1..n without gaps, got {versions}")


def migrate(conn: sqlite3.Connection, now: datetime, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to the latest schema; a database already there is left untouched.

    Args:
        conn: A connection made by `dubkit.jobs.connection.connect`.
        now: The time recorded for the migrations that run (UTC).
        migrations: The migrations to apply; the default is the schema of this dubkit.

    Returns:
        The schema version after migrating.

    Raises:
        JobError: The database is newer than this code, the migrations are misnumbered, or a statement failed
            (the database then keeps its previous version).
    """
    _check(migrations)
    latest = latest_version(migrations)
    current = schema_version(conn)
    if current == latest:
        return current  # the common case takes no write lock
    if current > latest:
        raise _too_new(current, latest)
    with immediate(conn):
        conn.execute(_LEDGER)
        current = schema_version(conn)  # another process may have migrated while we waited for the lock
        if current > latest:
            raise _too_new(current, latest)
        for migration in migrations:
            if migration.version <= current:
                continue
            logger.info("applying job-store migration %d: %s", migration.version, migration.name)
            try:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, format_time(now)),
                )
            except sqlite3.Error as exc:
                raise JobError(f"job-store migration {migration.version} failed: {exc}") from exc
    return latest


def _too_new(current: int, latest: int) -> JobError:
    return JobError(
        f"the job database has schema version {current}, newer than this dubkit knows ({latest}); "
        "upgrade dubkit or point it at another database"
    )
