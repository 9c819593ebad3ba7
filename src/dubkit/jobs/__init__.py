"""Jobs: the SQLite job store with leases, and (later) the runners that work through it."""

from __future__ import annotations

from dubkit.jobs.claim import Claim
from dubkit.jobs.migrations import MIGRATIONS, Migration, latest_version, migrate, schema_version
from dubkit.jobs.store import JobStore

__all__ = ["MIGRATIONS", "Claim", "JobStore", "Migration", "latest_version", "migrate", "schema_version"]
