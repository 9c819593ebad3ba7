"""SQLite connections for the job store: WAL, a busy timeout, full sync, and explicit write transactions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dubkit.errors import JobError

__all__ = ["connect", "immediate"]

logger = logging.getLogger(__name__)


def connect(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with the pragmas the job store relies on.

    The connection runs in autocommit mode (``isolation_level=None``) so that every write transaction is
    opened explicitly with `immediate`; Python's implicit deferred transactions are never used.

    Args:
        path: The database file; its folder is created when missing.
        busy_timeout_s: How long a statement waits for a lock held by another connection.

    Returns:
        The open connection, in WAL mode with ``synchronous=FULL``.

    Raises:
        JobError: The file cannot be opened or the pragmas cannot be set.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise JobError(f"cannot open the job database {str(path)!r}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JobError(f"the job database {str(path)!r} cannot use WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        conn.close()
        raise JobError(f"cannot configure the job database {str(path)!r}: {exc}") from exc
    except JobError:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in a ``BEGIN IMMEDIATE`` transaction: commit on success, roll back on any exception.

    ``BEGIN IMMEDIATE`` takes the write lock up front, waiting up to the busy timeout; a deferred transaction
    that upgrades from read to write would instead fail at once with "database is locked" under contention.

    Args:
        conn: A connection made by `connect` (autocommit mode).

    Yields:
        The same connection, inside the transaction.

    Raises:
        JobError: The lock could not be taken within the busy timeout, or the commit failed.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise JobError(f"cannot start a write transaction on the job database: {exc}") from exc
    try:
        yield conn
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:  # pragma: no cover - the transaction is already gone
            logger.warning("rollback of a job-store transaction failed", exc_info=True)
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise JobError(f"cannot commit to the job database: {exc}") from exc
