"""Per-owner concurrency limit: how many jobs one owner may have waiting or running at once.

The authoritative check runs on the store thread (`dubkit.server.services.StoreThread`) in the same call that
inserts the new jobs: every job insert of the server goes through that one thread, so no other upload can
insert between the count and the insert, and concurrent uploads by one owner never pass the limit. (Workers
only move jobs on: to processing, then to a finished state, which frees room.) Uploads also check early,
before any byte is received, so that a refused upload is usually refused at once.
"""

from __future__ import annotations

from collections.abc import Callable

from dubkit.errors import ConfigError
from dubkit.jobs import JobStore
from dubkit.models.job import JobRecord, JobStatus
from dubkit.server.problems import ProblemError

__all__ = ["RETRY_AFTER_SECONDS", "TooManyActiveJobsError", "admit", "check_fits", "check_room"]

RETRY_AFTER_SECONDS = 30
"""The ``Retry-After`` of a refusal: jobs take a while; no exact figure exists."""


class TooManyActiveJobsError(ProblemError):
    """429: the owner already has ``limit`` jobs waiting or running."""

    def __init__(self, active: int, asked: int, limit: int) -> None:
        super().__init__(
            429,
            f"{active} of your jobs are waiting or running and this upload would add {asked}; at most {limit}"
            " may be at once: try again when one has finished",
            code="too_many_active_jobs",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def active_jobs(store: JobStore, owner: str) -> int:
    """How many of ``owner``'s jobs are waiting or running."""
    return store.count(owner, JobStatus.UPLOADED) + store.count(owner, JobStatus.PROCESSING)


def check_fits(asked: int, limit: int) -> None:
    """Refuse an upload that could never be admitted (more target languages than the limit).

    Raises:
        ConfigError: ``asked`` is over a non-zero ``limit`` (422; waiting would not help).
    """
    if limit and asked > limit:
        raise ConfigError(
            f"at most {limit} jobs may be waiting or running at once; this upload asks for {asked}",
            field="target_language",
        )


def check_room(store: JobStore, owner: str, asked: int, limit: int) -> None:
    """Run on the store thread: whether ``owner`` may add ``asked`` jobs now.

    Raises:
        TooManyActiveJobsError: They would pass the limit (``limit`` 0: never).
    """
    if not limit:
        return
    active = active_jobs(store, owner)
    if active + asked > limit:
        raise TooManyActiveJobsError(active, asked, limit)


def admit(
    store: JobStore, owner: str, asked: int, limit: int, create: Callable[[JobStore], list[JobRecord]]
) -> list[JobRecord]:
    """Run on the store thread: check the limit and insert the jobs (``create``) in one step.

    Raises:
        TooManyActiveJobsError: The jobs would pass the limit; nothing is inserted.
    """
    check_room(store, owner, asked, limit)
    return create(store)
