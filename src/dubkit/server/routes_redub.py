"""``POST /jobs/{job_id}/redub``: queue an incremental re-dub of a job's changed lines as its next step.

The server writes the edited dub project (`dubkit.models.project_edits.edited_project`) beside the job's
files and queues the job again (`dubkit.jobs.store.JobStore.request_redub`); a worker, in-process or a
Dramatiq worker, runs `dubkit.pipeline.Pipeline.redub` on the job's run directory and uploads the next
result version. Progress comes over the job's progress WebSocket as for a dub; the last result stays
downloadable until the new one replaces it, and cancelling (``POST /jobs/{job_id}/cancel``) or a failure
leaves the job completed with that result. Versions older than the current one are removed here, when the
next re-dub is queued.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header

from dubkit.errors import StorageError
from dubkit.jobs.attempt import output_prefix
from dubkit.jobs.ticket import RedubStep, backend_choices
from dubkit.models.job import JobRecord
from dubkit.models.project_edits import edited_project
from dubkit.server.deps import Owner, Services
from dubkit.server.outputs import result_version
from dubkit.server.problems import ProblemError
from dubkit.server.routes_jobs import problems
from dubkit.server.routes_segments import job_record, load_state, require_editable, require_match
from dubkit.server.schemas import JobOut, job_out
from dubkit.storage import Storage

__all__ = ["router"]

router = APIRouter()


def _clear_versions(storage: Storage, record: JobRecord, current: int) -> None:
    """Remove every result version but the current one (earlier ones it replaced, a failed re-dub's)."""
    for version in (*range(1, current), current + 1):
        try:
            storage.delete(output_prefix(record.user_id, record.id, version).rstrip("/"), recursive=True)
        except StorageError:
            continue  # left for the next re-dub to sweep


@router.post(
    "/jobs/{job_id}/redub",
    status_code=202,
    response_model=JobOut,
    responses=problems(404, 409, 412, 422),
    summary="Re-dub the changed lines",
)
async def redub(
    job_id: str,
    owner: Owner,
    services: Services,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match", description="Optional: the ETag of the lines this re-dub should apply (412)."
        ),
    ] = None,
) -> JobOut:
    """Queue a re-dub of the lines changed since the last result; only what they touch is redone.

    The job goes back to ``uploaded``, then ``processing`` (watch it on its progress WebSocket), and
    completes with the next result version; until then its last result stays downloadable. 409 when the
    job has not completed, a re-dub is already queued, or nothing changed; 412 with a stale If-Match.
    """
    record = await job_record(services, job_id, owner)
    require_editable(record)
    async with services.edits.lock(job_id):
        record = await job_record(services, job_id, owner)
        require_editable(record)
        state = await load_state(services, record)
        if if_match is not None:
            require_match(if_match, state)
        if state.edits.empty:
            raise ProblemError(
                409,
                "nothing to re-dub: no line changed since the last result (change one with PATCH first)",
                code="nothing_to_redub",
            )
        voices = await services.voices.voices(backend_choices(record.job_metadata), record.target_language)
        project = edited_project(state.project, state.edits, voices)
        current = result_version(record) or 1

        def prepare() -> str:
            _clear_versions(services.storage, record, current)
            return services.edits.write_redub_project(record, project)

        key = await anyio.to_thread.run_sync(prepare)
        step = RedubStep(version=current + 1, project_key=key)
        record = await services.store.call(lambda store: store.request_redub(job_id, owner, step.to_dict()))
    await services.enqueue(record)
    return job_out(record)
