"""Jobs: the SQLite job store with leases, and the in-process runner that works through it."""

from __future__ import annotations

from dubkit.jobs.claim import Claim
from dubkit.jobs.events import JobEvent, JobEventState, JobSubscriber
from dubkit.jobs.migrations import MIGRATIONS, Migration, latest_version, migrate, schema_version
from dubkit.jobs.runner import InProcessRunner, RunStats
from dubkit.jobs.store import JobStore

__all__ = [
    "MIGRATIONS",
    "Claim",
    "InProcessRunner",
    "JobEvent",
    "JobEventState",
    "JobStore",
    "JobSubscriber",
    "Migration",
    "RunStats",
    "latest_version",
    "migrate",
    "schema_version",
]
