"""The job store: jobs in one SQLite file (sqlite-utils, WAL), claimed by workers under a lease.

Processing is at-least-once: `JobStore.claim` hands a job to one worker with a lease token and an expiry; the
worker extends the lease with `JobStore.heartbeat` and reports with `JobStore.update_progress`,
`JobStore.complete` or `JobStore.fail`, each accepted only with the current token. A job whose lease runs out
is claimed again (attempts + 1); past ``max_attempts`` it is dead-lettered (status ``failed``). Every write
runs in a ``BEGIN IMMEDIATE`` transaction; every read filters by owner when an owner is given, and another
owner's job is reported as not found.

A completed job can be queued again to re-dub it after edits (`JobStore.request_redub`); it keeps its result
(``output_path``) until the re-dub completes with a new one, and a re-dub that fails or is cancelled leaves
it ``completed`` with that result and a note in ``error_message``.

One `JobStore` holds one connection and belongs to one thread; open one per thread or process.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from dubkit.errors import CancelledError, JobError, JobNotFoundError, JobStateError
from dubkit.jobs import sql
from dubkit.jobs.claim import Claim
from dubkit.jobs.clock import Clock, format_time, plus_seconds, utc_now
from dubkit.jobs.connection import connect, immediate
from dubkit.jobs.migrations import migrate
from dubkit.models.job import JobRecord, JobStatus

__all__ = ["JobStore"]

logger = logging.getLogger(__name__)

_RECORD_COLUMNS = tuple(JobRecord.model_fields)
_TIME_COLUMNS = ("created_at", "updated_at", "completed_at")


class JobStore:
    """Jobs in a SQLite file, with leases for the workers that run them.

    The constructor is cheap; the file is opened and migrated by `open` (or on first use, or by ``with``).

    Args:
        path: The SQLite file; created, with its folder, when missing. Never put it on a network filesystem.
        max_attempts: How many times a job may be claimed before it is dead-lettered.
        busy_timeout_s: How long a write waits for another connection's lock before failing.
        clock: Returns the current time (timezone-aware); tests pass a fake one to expire leases.

    Raises:
        JobError: ``max_attempts`` or ``busy_timeout_s`` is not positive.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_attempts: int = 3,
        busy_timeout_s: float = 30.0,
        clock: Clock = utc_now,
    ) -> None:
        if max_attempts < 1:
            raise JobError(f"max_attempts must be at least 1, got {max_attempts}")
        if busy_timeout_s <= 0:
            raise JobError(f"busy_timeout_s must be positive, got {busy_timeout_s}")
        self.path = Path(path)
        self.max_attempts = max_attempts
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._db: sqlite_utils.Database | None = None

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r}, max_attempts={self.max_attempts})"

    # --- lifecycle -------------------------------------------------------------------------------

    def open(self) -> JobStore:
        """Open the database and apply missing migrations; calling it again does nothing.

        Returns:
            This store.

        Raises:
            JobError: The file cannot be opened, or its schema is newer than this dubkit.
        """
        if self._db is None:
            conn = connect(self.path, busy_timeout_s=self.busy_timeout_s)
            try:
                migrate(conn, self._now())
            except BaseException:
                conn.close()
                raise
            self._db = sqlite_utils.Database(conn, execute_plugins=False)
        return self

    def close(self) -> None:
        """Close the connection; the store can be opened again."""
        if self._db is not None:
            self._db.conn.close()
            self._db = None

    def __enter__(self) -> JobStore:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- owners' side ----------------------------------------------------------------------------

    def create(self, record: JobRecord | Mapping[str, object]) -> JobRecord:
        """Store a new job.

        Args:
            record: A `JobRecord`, or its fields as a mapping (``id`` defaults to a new random id).

        Returns:
            The job as stored.

        Raises:
            JobError: The fields are invalid, a time is naive, or a job with this id exists.
        """
        if not isinstance(record, JobRecord):
            fields = dict(record)
            fields.setdefault("id", uuid.uuid4().hex)
            try:
                record = JobRecord.model_validate(fields)
            except ValidationError as exc:
                raise JobError(f"invalid job fields: {exc}", job_id=str(fields["id"])) from exc
        row = _to_row(record)
        with self._translate("create", record.id):
            try:
                self._database().table("jobs").insert(row)
            except sqlite3.IntegrityError as exc:
                raise JobError(f"job {record.id!r} already exists", job_id=record.id) from exc
        return self.get(record.id)

    def get(self, job_id: str, owner: str | None = None) -> JobRecord:
        """The job ``job_id``; with ``owner``, only if that owner's.

        Raises:
            JobNotFoundError: No such job, or it belongs to another owner.
        """
        return _to_record(self._row(job_id, owner))

    def list(
        self, owner: str, status: JobStatus | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[JobRecord]:
        """An owner's jobs, newest first.

        Args:
            owner: Whose jobs.
            status: Only jobs in this status, when given.
            limit: At most this many (1 to 1000).
            offset: Skip this many first.

        Raises:
            JobError: ``limit`` or ``offset`` is out of range, or the database cannot be read.
        """
        if not 1 <= limit <= 1000 or offset < 0:
            raise JobError(f"limit must be 1..1000 and offset >= 0, got limit={limit}, offset={offset}")
        params = {
            "owner": owner,
            "status": None if status is None else JobStatus(status).value,
            "limit": limit,
            "offset": offset,
        }
        with self._translate("list"):
            rows = list(self._database().query(sql.LIST_JOBS, params))
        return [_to_record(row) for row in rows]

    def count(self, owner: str, status: JobStatus | None = None) -> int:
        """How many jobs an owner has (only those in ``status``, when given).

        Raises:
            JobError: The database cannot be read.
        """
        params = {"owner": owner, "status": None if status is None else JobStatus(status).value}
        with self._translate("count"):
            (total,) = self._database().execute(sql.COUNT_JOBS, params).fetchone()
        return int(total)

    def request_cancel(self, job_id: str, owner: str) -> JobRecord:
        """Cancel a job: an ``uploaded`` job at once; a ``processing`` one once its runner notices.

        A running job gets a cancel request that its runner sees through `cancelled` and confirms with
        `acknowledge_cancel`; if the runner dies instead, the next `claim` after its lease expires cancels
        the job. Cancelling a cancelled job changes nothing.

        Returns:
            The job after the request.

        Raises:
            JobNotFoundError: No such job for this owner.
            JobError: The job already completed or failed.
        """
        params = {"id": job_id, "now": format_time(self._now())}
        with self._write("cancel", job_id) as conn:
            status = JobStatus(self._row(job_id, owner)["status"])
            if status in (JobStatus.COMPLETED, JobStatus.FAILED):
                raise JobError(
                    f"job {job_id!r} already {status.value}; it cannot be cancelled", job_id=job_id
                )
            conn.execute(sql.CANCEL_WAITING if status is JobStatus.UPLOADED else sql.REQUEST_CANCEL, params)
            conn.execute(sql.RESTORE_RESULT, {"id": job_id})
        logger.info("cancel requested for job %s (was %s)", job_id, status.value)
        return self.get(job_id, owner)

    def request_redub(self, job_id: str, owner: str, redub: Mapping[str, object]) -> JobRecord:
        """Queue a completed job again to re-dub it after edits; it keeps its result until replaced.

        The job becomes ``uploaded`` with a fresh count of attempts, and ``redub`` goes into
        ``job_metadata["redub"]`` (what the worker re-dubs: `dubkit.jobs.ticket.RedubStep`). A re-dub that
        fails or is cancelled leaves the job ``completed`` with its last result.

        Raises:
            JobNotFoundError: No such job for this owner.
            JobStateError: The job has not completed (or is re-dubbing already).
        """
        params = {
            "id": job_id,
            "owner": owner,
            "redub": json.dumps(dict(redub), sort_keys=True),
            "now": format_time(self._now()),
        }
        with self._write("re-dub", job_id) as conn:
            row = self._row(job_id, owner)
            if conn.execute(sql.REQUEST_REDUB, params).rowcount != 1:
                raise JobStateError(job_id, row["status"], "only a completed job can be re-dubbed")
        logger.info("job %s queued for a re-dub (%s)", job_id, params["redub"])
        return self.get(job_id, owner)

    def cancelled(self, job_id: str, owner: str | None = None) -> bool:
        """Whether the job was cancelled or a cancel was requested; runners poll this between stages.

        Raises:
            JobNotFoundError: No such job (for this owner, when given).
        """
        row = self._row(job_id, owner)
        return bool(row["cancel_requested"]) or row["status"] == JobStatus.CANCELLED.value

    # --- workers' side ---------------------------------------------------------------------------

    def claim(self, worker_id: str, lease_seconds: float) -> Claim | None:
        """Take the oldest job that is waiting, or whose worker's lease ran out.

        Before choosing, expired jobs with a cancel request become ``cancelled``, and expired jobs that used
        all ``max_attempts`` become ``failed`` ("dead-lettered after N attempts").

        Args:
            worker_id: Who claims (recorded as the lease owner; for logs and operators).
            lease_seconds: How long the lease lasts unless extended by `heartbeat`.

        Returns:
            The claim (job, lease token, expiry), or ``None`` when no job is available.

        Raises:
            JobError: ``lease_seconds`` is not positive, or the write lock was not taken in the busy timeout.
        """
        _check_lease(lease_seconds)
        moment = self._now()
        now = format_time(moment)
        expires = plus_seconds(moment, lease_seconds)
        token = secrets.token_hex(16)
        with self._write("claim") as conn:
            conn.execute(sql.CANCEL_EXPIRED, {"now": now})
            exhausted = conn.execute(sql.SELECT_EXHAUSTED, {"now": now, "max": self.max_attempts}).fetchall()
            for job_id, attempts in exhausted:
                conn.execute(sql.DEAD_LETTER, {"now": now, "id": job_id})
                logger.warning("job %s dead-lettered after %d attempts", job_id, attempts)
            conn.execute(sql.RESTORE_RESULT, {"id": None})
            found = conn.execute(sql.SELECT_CLAIMABLE, {"now": now}).fetchone()
            if found is None:
                return None
            job_id = found[0]
            conn.execute(
                sql.TAKE_LEASE,
                {
                    "worker": worker_id,
                    "token": token,
                    "expires": format_time(expires),
                    "now": now,
                    "id": job_id,
                },
            )
            record = _to_record(self._row(job_id, None))
        logger.info("job %s claimed by %s (attempt %d)", job_id, worker_id, record.attempts)
        return Claim(job=record, token=token, worker_id=worker_id, expires_at=expires)

    def heartbeat(self, job_id: str, token: str, lease_seconds: float) -> bool:
        """Extend a lease to ``lease_seconds`` from now.

        Returns:
            ``True`` when extended; ``False`` when ``token`` no longer holds the job (another worker claimed
            it, or it finished or was cancelled): the worker should stop.

        Raises:
            JobError: ``lease_seconds`` is not positive, or the database cannot be written.
        """
        _check_lease(lease_seconds)
        moment = self._now()
        params = {
            "id": job_id,
            "token": token,
            "expires": format_time(plus_seconds(moment, lease_seconds)),
            "now": format_time(moment),
        }
        with self._write("heartbeat", job_id) as conn:
            return conn.execute(sql.HEARTBEAT, params).rowcount == 1

    def take_attempt(self, job_id: str, attempt: int, token: str, worker: str, lease_seconds: float) -> bool:
        """Record that an external queue (Dramatiq) delivered attempt ``attempt`` of a job to ``worker``.

        The job becomes ``processing`` under ``token`` only when ``attempt`` is newer than every attempt
        recorded so far, so a re-read or stale event changes nothing.

        Returns:
            Whether the attempt was taken.

        Raises:
            JobError: ``lease_seconds`` is not positive, or the database cannot be written.
        """
        _check_lease(lease_seconds)
        moment = self._now()
        params = {
            "id": job_id,
            "attempt": attempt,
            "worker": worker,
            "token": token,
            "expires": format_time(plus_seconds(moment, lease_seconds)),
            "now": format_time(moment),
        }
        with self._write("take", job_id) as conn:
            return conn.execute(sql.TAKE_ATTEMPT, params).rowcount == 1

    def update_progress(self, job_id: str, token: str, stage: str, progress: float) -> None:
        """Record the stage a worker is in and its overall progress (0 to 1).

        Raises:
            JobError: ``progress`` is outside 0..1, or ``token`` no longer holds the job.
            JobNotFoundError: No such job.
        """
        if not 0.0 <= progress <= 1.0:
            raise JobError(f"progress must be within 0..1, got {progress}", job_id=job_id)
        self._guarded(
            "update progress of", job_id, token, sql.PROGRESS, {"stage": stage, "progress": progress}
        )

    def complete(
        self,
        job_id: str,
        token: str,
        output_path: str,
        output_size: int,
        processing_time: float,
        *,
        attempt_history: Sequence[Mapping[str, object]] | None = None,
    ) -> JobRecord:
        """Mark the job completed; only the worker holding the current lease can.

        A cancel requested before this commits wins: the job stays ``processing`` with its cancel request,
        and `CancelledError` tells the worker to remove the outputs and call `acknowledge_cancel`.

        Args:
            job_id: The job.
            token: The worker's lease token.
            output_path: The dubbed media's storage key.
            output_size: Its size in bytes.
            processing_time: Seconds the job took (all its attempts, when the runner knows them).
            attempt_history: Each attempt's ``attempt``, ``seconds`` and ``outcome``, kept in
                ``job_metadata["attempt_history"]`` when given.

        Raises:
            CancelledError: A cancel was requested for the job (the worker still holds its lease).
            JobError: ``token`` no longer holds the job (its lease was taken over, or it was finished).
            JobNotFoundError: No such job.
        """
        history = None if attempt_history is None else json.dumps([dict(a) for a in attempt_history])
        params = {
            "output_path": output_path,
            "output_size": output_size,
            "seconds": processing_time,
            "history": history,
        }
        self._guarded("complete", job_id, token, sql.COMPLETE, params)
        logger.info("job %s completed", job_id)
        return self.get(job_id)

    def fail(self, job_id: str, token: str, error: str, *, retry: bool = False) -> JobRecord:
        """Record that the worker's attempt failed.

        Args:
            job_id: The job.
            token: The worker's lease token.
            error: What went wrong, for the owner (never file contents or secrets).
            retry: Put the job back in the queue when attempts remain (else it is dead-lettered); by default
                the job fails for good.

        Returns:
            The job after the update (``failed``, or ``uploaded`` when retried).

        Raises:
            JobError: ``token`` no longer holds the job.
            JobNotFoundError: No such job.
        """
        params: dict[str, object] = {"error": error, "max": self.max_attempts}
        self._guarded("fail", job_id, token, sql.RETRY if retry else sql.FAIL, params, restore=True)
        record = self.get(job_id)
        logger.info("job %s attempt %d failed (%s): %s", job_id, record.attempts, record.status.value, error)
        return record

    def acknowledge_cancel(self, job_id: str, token: str) -> JobRecord:
        """Confirm, from the worker, that a job with a cancel request stopped: it becomes ``cancelled``.

        Raises:
            JobError: ``token`` no longer holds the job.
            JobNotFoundError: No such job.
        """
        self._guarded("cancel", job_id, token, sql.ACKNOWLEDGE_CANCEL, {}, restore=True)
        return self.get(job_id)

    # --- internals -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def _database(self) -> sqlite_utils.Database:
        return self.open()._db  # type: ignore[return-value]

    def _row(self, job_id: str, owner: str | None) -> dict[str, Any]:
        with self._translate("read", job_id):
            rows = list(self._database().query(sql.SELECT_JOB, {"id": job_id, "owner": owner}))
        if not rows:
            raise JobNotFoundError(job_id)
        return rows[0]

    def _guarded(
        self,
        action: str,
        job_id: str,
        token: str,
        statement: str,
        params: dict[str, object],
        *,
        restore: bool = False,
    ) -> None:
        values = {**params, "id": job_id, "token": token, "now": format_time(self._now())}
        with self._write(action, job_id) as conn:
            if conn.execute(statement, values).rowcount == 1:
                if restore:  # a re-dub that failed or was cancelled: the job keeps its last result
                    conn.execute(sql.RESTORE_RESULT, {"id": job_id})
                return
            row = self._row(job_id, None)
        held = row["lease_token"] == token and row["status"] == JobStatus.PROCESSING.value
        if held and row["cancel_requested"]:  # only COMPLETE is refused for a cancel request
            raise CancelledError()
        raise JobError(
            f"cannot {action} job {job_id!r}: this worker's lease no longer holds it"
            f" (status {row['status']})",
            job_id=job_id,
        )

    @contextmanager
    def _write(self, action: str, job_id: str | None = None) -> Iterator[sqlite3.Connection]:
        conn = self._database().conn
        with self._translate(action, job_id), immediate(conn):
            yield conn

    @contextmanager
    def _translate(self, action: str, job_id: str | None = None) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise JobError(f"job store {action} failed: {exc}", job_id=job_id) from exc


def _check_lease(lease_seconds: float) -> None:
    if lease_seconds <= 0:
        raise JobError(f"lease_seconds must be positive, got {lease_seconds}")


def _to_row(record: JobRecord) -> dict[str, object]:
    row: dict[str, object] = {}
    for name in _RECORD_COLUMNS:
        value = getattr(record, name)
        if name in _TIME_COLUMNS:
            row[name] = None if value is None else format_time(value)
        elif name == "job_metadata":
            row[name] = json.dumps(value, sort_keys=True, default=str)
        elif name == "status":
            row[name] = JobStatus(value).value
        else:
            row[name] = value
    return row


def _to_record(row: Mapping[str, Any]) -> JobRecord:
    fields = dict(row)
    fields["job_metadata"] = json.loads(fields.get("job_metadata") or "{}")
    return JobRecord.model_validate(fields)
