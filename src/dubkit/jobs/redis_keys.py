"""The Redis names the distributed runner's server and workers agree on."""

from __future__ import annotations

__all__ = [
    "ATTEMPTS_PREFIX",
    "CANCEL_PREFIX",
    "CANCEL_TTL_S",
    "EVENTS_STREAM",
    "FINISHED_PREFIX",
    "JOB_KEY_TTL_S",
    "attempts_key",
    "cancel_key",
    "finished_key",
    "lease_token",
]

EVENTS_STREAM = "dubkit:jobs:events"
"""The stream workers append `dubkit.jobs.events.JobEvent`s to."""
CANCEL_PREFIX = "dubkit:cancel:"
ATTEMPTS_PREFIX = "dubkit:attempts:"
FINISHED_PREFIX = "dubkit:finished:"
JOB_KEY_TTL_S = 7 * 24 * 3600
"""The longest a per-job key lives in Redis when nobody deletes it (a job's keys are deleted when it ends)."""
CANCEL_TTL_S = JOB_KEY_TTL_S
"""How long a cancel request stays in Redis at most."""


def cancel_key(job_id: str) -> str:
    """The Redis key whose presence asks the workers to cancel ``job_id``."""
    return CANCEL_PREFIX + job_id


def attempts_key(job_id: str) -> str:
    """The Redis hash of the deliveries of ``job_id`` to workers (`dubkit.jobs.attempt_ledger`)."""
    return ATTEMPTS_PREFIX + job_id


def finished_key(job_id: str) -> str:
    """The Redis key a worker sets once a job ended for good (a later delivery of it then does nothing)."""
    return FINISHED_PREFIX + job_id


def lease_token(job_id: str, attempt: int) -> str:
    """The store lease token the server uses for one attempt of a job."""
    return f"dramatiq:{job_id}:{attempt}"
