"""Job records: one dub requested through the server or a queue (pydantic, since they are stored)."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobRecord", "JobStatus"]


class JobStatus(str, Enum):
    """Where a job stands."""

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more."""
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class JobRecord(BaseModel):
    """A row of the jobs table."""

    model_config = ConfigDict(extra="ignore")

    id: str
    user_id: str
    original_filename: str
    source_language: str = "auto"
    target_language: str
    status: JobStatus = JobStatus.UPLOADED
    input_path: str | None = None
    output_path: str | None = None
    input_size: int | None = None
    output_size: int | None = None
    processing_time_seconds: float | None = None
    error_message: str | None = None
    job_metadata: dict[str, object] = Field(default_factory=dict)
    stage: str | None = None
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    attempts: int = 0
    cancel_requested: bool = False
    dead_lettered_at: datetime | None = None
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    completed_at: datetime | None = None
