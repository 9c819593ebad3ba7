"""The caller's jobs: list, look up, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from dubkit.jobs import JobStore
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.models.job import JobRecord, JobStatus
from dubkit.server.deps import Owner, Services
from dubkit.server.problems import Problem
from dubkit.server.schemas import JobList, JobOut, job_out

__all__ = ["router"]

router = APIRouter()


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem responses."""
    return {s: {"model": Problem, "content": {"application/problem+json": {}}} for s in (401, *statuses)}


def _page(
    store: JobStore, owner: str, status: JobStatus | None, limit: int, offset: int
) -> tuple[list[JobRecord], int]:
    return store.list(owner, status, limit=limit, offset=offset), store.count(owner, status)


class JobQuery(BaseModel):
    """The query of ``GET /jobs`` (unknown parameters are refused)."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)
    status: JobStatus | None = None


@router.get(
    "/jobs", response_model=JobList, responses=problems(422), summary="The caller's jobs, newest first"
)
async def list_jobs(owner: Owner, services: Services, query: Annotated[JobQuery, Query()]) -> JobList:
    """A page of the caller's jobs (only theirs), newest first, optionally only those in ``status``."""
    limit, offset, status = query.limit, query.offset, query.status
    records, total = await services.store.call(lambda store: _page(store, owner, status, limit, offset))
    return JobList(jobs=[job_out(r) for r in records], total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=problems(404), summary="One job")
async def get_job(job_id: str, owner: Owner, services: Services) -> JobOut:
    """The job (404 when it does not exist or is another owner's)."""
    return job_out(await services.store.call(lambda store: store.get(job_id, owner)))


@router.get("/jobs/{job_id}/status", response_model=JobOut, responses=problems(404), summary="A job's status")
async def job_status(job_id: str, owner: Owner, services: Services) -> JobOut:
    """The job's status, stage, progress and error (the same body as ``GET /jobs/{job_id}``)."""
    return job_out(await services.store.call(lambda store: store.get(job_id, owner)))


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=202,
    response_model=JobOut,
    responses=problems(404, 409),
    summary="Cancel a job",
)
async def cancel_job(job_id: str, owner: Owner, services: Services) -> JobOut:
    """Cancel a job: a waiting one at once; a running one when its worker notices (its partial files removed).

    409 when the job already completed or failed; cancelling a cancelled job changes nothing.
    """
    before = await services.store.call(lambda store: store.get(job_id, owner))
    record = await services.cancel(job_id, owner)
    if record.status is JobStatus.CANCELLED and before.status is not JobStatus.CANCELLED:
        services.publish(
            JobEvent(
                job_id=job_id,
                stage=None,
                fraction=record.progress,
                message="cancelled before it started",
                state=JobEventState.CANCELLED,
            )
        )
    return job_out(record)
