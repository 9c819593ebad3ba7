"""The job store's SQL statements, written out in full (no SQL is built from strings at run time).

Named parameters: ``:id``, ``:owner``, ``:token``, ``:now`` (a `dubkit.jobs.clock.format_time` string) and
the ones each statement names.
"""

from __future__ import annotations

__all__: list[str] = []

SELECT_JOB = "SELECT * FROM jobs WHERE id = :id AND (:owner IS NULL OR user_id = :owner)"

LIST_JOBS = (
    "SELECT * FROM jobs WHERE user_id = :owner AND (:status IS NULL OR status = :status)"
    " ORDER BY created_at DESC, rowid DESC LIMIT :limit OFFSET :offset"
)

COUNT_JOBS = "SELECT count(*) FROM jobs WHERE user_id = :owner AND (:status IS NULL OR status = :status)"

CANCEL_WAITING = (
    "UPDATE jobs SET status = 'cancelled', cancel_requested = 1, updated_at = :now"
    " WHERE id = :id AND status = 'uploaded'"
)

REQUEST_CANCEL = (
    "UPDATE jobs SET cancel_requested = 1, updated_at = :now WHERE id = :id AND status = 'processing'"
)

# A job's lease has expired when it is processing and its expiry is past (or missing).
CANCEL_EXPIRED = (
    "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,"
    " updated_at = :now"
    " WHERE status = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at <= :now)"
    " AND cancel_requested = 1"
)

SELECT_EXHAUSTED = (
    "SELECT id, attempts FROM jobs"
    " WHERE status = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at <= :now)"
    " AND attempts >= :max"
)

DEAD_LETTER = (
    "UPDATE jobs SET status = 'failed', dead_lettered_at = :now, updated_at = :now,"
    " error_message = 'dead-lettered after ' || attempts || ' attempts'"
    " || COALESCE('; last error: ' || error_message, ''),"
    " lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = :id"
)

SELECT_CLAIMABLE = (
    "SELECT id FROM jobs"
    " WHERE (status = 'uploaded' AND cancel_requested = 0)"
    " OR (status = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at <= :now))"
    " ORDER BY created_at, rowid LIMIT 1"
)

TAKE_LEASE = (
    "UPDATE jobs SET status = 'processing', attempts = attempts + 1, lease_owner = :worker,"
    " lease_token = :token, lease_expires_at = :expires, heartbeat_at = :now, updated_at = :now"
    " WHERE id = :id"
)

# Every statement below is guarded by the lease: it changes nothing unless :token still holds the job.

HEARTBEAT = (
    "UPDATE jobs SET lease_expires_at = :expires, heartbeat_at = :now"
    " WHERE id = :id AND lease_token = :token AND status = 'processing'"
)

PROGRESS = (
    "UPDATE jobs SET stage = :stage, progress = :progress, updated_at = :now"
    " WHERE id = :id AND lease_token = :token AND status = 'processing'"
)

COMPLETE = (
    "UPDATE jobs SET status = 'completed', output_path = :output_path, output_size = :output_size,"
    " processing_time_seconds = :seconds, progress = 1.0, completed_at = :now, updated_at = :now,"
    " job_metadata = CASE WHEN :history IS NULL THEN job_metadata"
    " ELSE json_set(job_metadata, '$.attempt_history', json(:history)) END,"
    " lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = :id AND lease_token = :token AND status = 'processing' AND cancel_requested = 0"
)
"""A cancel requested before the completion commits wins: the job is not completed (`JobStore.complete`)."""

FAIL = (
    "UPDATE jobs SET status = 'failed', error_message = :error, updated_at = :now,"
    " lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = :id AND lease_token = :token AND status = 'processing'"
)

RETRY = (
    "UPDATE jobs SET"
    " status = CASE WHEN attempts >= :max THEN 'failed' ELSE 'uploaded' END,"
    " dead_lettered_at = CASE WHEN attempts >= :max THEN :now ELSE NULL END,"
    " error_message = CASE WHEN attempts >= :max"
    " THEN 'dead-lettered after ' || attempts || ' attempts; last error: ' || :error ELSE :error END,"
    " updated_at = :now, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = :id AND lease_token = :token AND status = 'processing'"
)

ACKNOWLEDGE_CANCEL = (
    "UPDATE jobs SET status = 'cancelled', updated_at = :now,"
    " lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE id = :id AND lease_token = :token AND status = 'processing'"
)

TAKE_ATTEMPT = (
    "UPDATE jobs SET status = 'processing', attempts = :attempt, lease_owner = :worker,"
    " lease_token = :token, lease_expires_at = :expires, heartbeat_at = :now, updated_at = :now"
    " WHERE id = :id AND status IN ('uploaded', 'processing') AND attempts < :attempt"
)
"""Record that an external queue delivered attempt ``:attempt`` of a job (only a newer attempt wins)."""

REQUEST_REDUB = (
    "UPDATE jobs SET status = 'uploaded', attempts = 0, cancel_requested = 0, error_message = NULL,"
    " dead_lettered_at = NULL, stage = NULL, progress = 0.0, updated_at = :now,"
    " job_metadata = json_set(COALESCE(job_metadata, '{}'), '$.redub', json(:redub))"
    " WHERE id = :id AND user_id = :owner AND status = 'completed' AND output_path IS NOT NULL"
)
"""Queue a completed job's re-dub (its ``output_path``, the last result, stays until replaced)."""

RESTORE_RESULT = (
    "UPDATE jobs SET status = 'completed', progress = 1.0, cancel_requested = 0, dead_lettered_at = NULL,"
    " error_message = CASE WHEN status = 'cancelled' THEN 'the re-dub was cancelled; this is the last result'"
    " ELSE 'the re-dub failed: ' || COALESCE(error_message, 'no reason given') || '; this is the last result'"
    " END,"
    " lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"
    " WHERE (:id IS NULL OR id = :id) AND output_path IS NOT NULL AND status IN ('failed', 'cancelled')"
)
"""A job with a result whose re-dub failed or was cancelled goes back to ``completed`` with that result.

Run after every statement that can fail or cancel a job (``:id`` NULL: every such job, after a claim's sweep).
A first dub never has an ``output_path`` before it completes, so this touches re-dubs only."""
