"""What a worker holds after claiming a job: the record and the lease that guards every later write."""

from __future__ import annotations

from datetime import datetime

import attrs

from dubkit.models.job import JobRecord

__all__ = ["Claim"]


@attrs.frozen
class Claim:
    """A job claimed by one worker.

    Attributes:
        job: The job as it was when claimed (status ``processing``, ``attempts`` already counted).
        token: The lease token; `JobStore.heartbeat`, `JobStore.update_progress`, `JobStore.complete`
            and `JobStore.fail` accept only the current one, so a worker whose lease was taken over cannot
            write any more.
        worker_id: The worker that holds the lease.
        expires_at: When the lease runs out unless extended by a heartbeat (UTC).
    """

    job: JobRecord
    token: str = attrs.field(repr=False)
    worker_id: str
    expires_at: datetime

    @property
    def job_id(self) -> str:
        """The claimed job's id."""
        return self.job.id
