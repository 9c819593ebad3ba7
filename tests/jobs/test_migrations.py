from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlite_utils

from dubkit.errors import JobError
from dubkit.jobs import MIGRATIONS, JobStore, Migration, latest_version, migrate, schema_version
from dubkit.jobs.connection import connect

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

SEED_COLUMNS = {
    "id", "user_id", "original_filename", "source_language", "target_language", "status", "input_path",
    "output_path", "input_size", "output_size", "processing_time_seconds", "error_message", "job_metadata",
    "created_at", "updated_at", "completed_at",
}  # fmt: skip
RUNNER_COLUMNS = {
    "stage", "progress", "attempts", "lease_owner", "lease_token", "lease_expires_at", "heartbeat_at",
    "cancel_requested", "dead_lettered_at",
}  # fmt: skip


def _columns(path: Path) -> set[str]:
    db = sqlite_utils.Database(path)
    try:
        return set(db.table("jobs").columns_dict)
    finally:
        db.close()


def test_fresh_database_gets_every_migration(db_path: Path) -> None:
    with JobStore(db_path):
        pass
    assert _columns(db_path) == SEED_COLUMNS | RUNNER_COLUMNS
    db = sqlite_utils.Database(db_path)
    try:
        indexed = {tuple(index.columns) for index in db.table("jobs").indexes}
        versions = [
            row["version"] for row in db.query("SELECT version FROM schema_migrations ORDER BY version")
        ]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert {("user_id",), ("status",), ("created_at",), ("updated_at",)} <= indexed
    assert versions == [1, 2] == [m.version for m in MIGRATIONS]


def test_migration_one_alone_is_the_seed_table_then_two_adds_runner_columns(db_path: Path) -> None:
    conn = connect(db_path, busy_timeout_s=5)
    try:
        assert schema_version(conn) == 0
        assert migrate(conn, NOW, MIGRATIONS[:1]) == 1
        assert _columns(db_path) == SEED_COLUMNS
        conn.execute(
            "INSERT INTO jobs (id, user_id, original_filename, target_language, created_at, updated_at)"
            " VALUES ('old', 'alice', 'a.mp4', 'de', '2025-01-01T00:00:00.000000+00:00',"
            " '2025-01-01T00:00:00.000000+00:00')"
        )
        assert migrate(conn, NOW) == 2
    finally:
        conn.close()
    assert _columns(db_path) == SEED_COLUMNS | RUNNER_COLUMNS
    with JobStore(db_path) as store:  # a row from version 1 reads back with the new defaults
        job = store.get("old")
    assert (job.attempts, job.progress, job.stage) == (0, 0.0, None)


def test_running_migrations_twice_is_a_no_op(db_path: Path) -> None:
    conn = connect(db_path, busy_timeout_s=5)
    try:
        assert migrate(conn, NOW) == latest_version()
        changes = conn.total_changes
        assert migrate(conn, NOW) == latest_version()
        assert conn.total_changes == changes
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()
    with JobStore(db_path), JobStore(db_path):  # reopening migrates nothing either
        pass


def test_database_newer_than_code_is_refused(db_path: Path) -> None:
    future = (*MIGRATIONS, Migration(3, "from the future", ("ALTER TABLE jobs ADD COLUMN flux REAL",)))
    conn = connect(db_path, busy_timeout_s=5)
    try:
        assert migrate(conn, NOW, future) == 3
    finally:
        conn.close()
    with pytest.raises(JobError, match=r"schema version 3, newer than this dubkit knows \(2\)"):
        JobStore(db_path).open()


def test_failed_migration_keeps_the_previous_version(db_path: Path) -> None:
    broken = (*MIGRATIONS, Migration(3, "broken", ("ALTER TABLE jobs ADD COLUMN ok REAL", "NOT SQL")))
    conn = connect(db_path, busy_timeout_s=5)
    try:
        with pytest.raises(JobError, match="migration 3 failed") as info:
            migrate(conn, NOW, broken)
        assert isinstance(info.value.__cause__, sqlite3.Error)
        assert schema_version(conn) == 0  # the whole run was one transaction
    finally:
        conn.close()


def test_misnumbered_migrations_are_rejected(db_path: Path) -> None:
    conn = connect(db_path, busy_timeout_s=5)
    try:
        with pytest.raises(JobError, match="without gaps"):
            migrate(conn, NOW, (MIGRATIONS[1],))
    finally:
        conn.close()
