"""Jobs: the SQLite job store with leases, the runners that work through it, and per-job warm pipelines."""

from __future__ import annotations

from dubkit.jobs.claim import Claim
from dubkit.jobs.events import JobEvent, JobEventState, JobSubscriber
from dubkit.jobs.migrations import MIGRATIONS, Migration, latest_version, migrate, schema_version
from dubkit.jobs.pipelines import JobPipelines, WarmPipelines
from dubkit.jobs.runner import InProcessRunner, RunStats
from dubkit.jobs.store import JobStore

__all__ = [
    "MIGRATIONS",
    "Claim",
    "InProcessRunner",
    "JobEvent",
    "JobEventState",
    "JobPipelines",
    "JobStore",
    "JobSubscriber",
    "Migration",
    "RunStats",
    "WarmPipelines",
    "latest_version",
    "migrate",
    "schema_version",
]
