"""A staged upload becomes jobs: probe the file, copy it to each job's input, insert the jobs, enqueue them.

Shared by the multipart upload (`dubkit.server.routes_upload`) and the resumable tus upload
(`dubkit.server.routes_tus`): both stage a file on local disk, then hand it here.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import anyio.to_thread

from dubkit.errors import StorageError
from dubkit.jobs import JobStore
from dubkit.media import MediaLimits, probe
from dubkit.models.job import JobRecord
from dubkit.server.admission import admit, check_fits, check_room
from dubkit.server.filenames import display_filename
from dubkit.server.services import ServerServices
from dubkit.server.upload_request import UploadRequest
from dubkit.storage import Storage, job_key, job_prefix

__all__ = ["check_upload_room", "jobs_from_staged"]

logger = logging.getLogger(__name__)


async def check_upload_room(services: ServerServices, owner: str, asked: int = 1) -> None:
    """The early concurrency check of an upload, before its bytes arrive (see `dubkit.server.admission`).

    Raises:
        ConfigError: ``asked`` jobs could never be admitted.
        TooManyActiveJobsError: The owner has no room for ``asked`` more jobs now.
    """
    limit = services.settings.max_active_jobs_per_owner
    check_fits(asked, limit)
    if limit:
        await services.store.call(lambda store: check_room(store, owner, asked, limit))


async def jobs_from_staged(
    services: ServerServices, *, owner: str, path: Path, request: UploadRequest, filename: str | None
) -> list[JobRecord]:
    """Probe the staged file at ``path`` and create (and enqueue) one job per target language.

    The staged file is left to the caller. On any failure no storage object or job row is left.

    Raises:
        MediaError: The file is not accepted media (415), or breaks a media limit (422).
        ConfigError: More target languages than the concurrency limit allows at all.
        TooManyActiveJobsError: The owner has too many jobs waiting or running (429).
    """
    settings = services.settings
    limit = settings.max_active_jobs_per_owner
    asked = len(request.target_languages)
    check_fits(asked, limit)
    limits = MediaLimits(max_size=settings.max_upload_bytes)
    await anyio.to_thread.run_sync(
        lambda: probe(path, limits, require_audio=True, verify=True), limiter=services.probe_slots
    )
    display = display_filename(filename)
    job_ids = [uuid.uuid4().hex for _ in request.target_languages]
    size = await anyio.to_thread.run_sync(_store_inputs, services.storage, path, owner, job_ids)
    try:
        records = await services.store.call(
            lambda store: admit(
                store,
                owner,
                asked,
                limit,
                lambda store: _create_jobs(
                    store, owner=owner, job_ids=job_ids, request=request, filename=display, size=size
                ),
            )
        )
    except BaseException:
        await anyio.to_thread.run_sync(_remove_inputs, services.storage, owner, job_ids)
        raise
    for record in records:
        await services.enqueue(record)
    logger.info("upload by %s: %d job(s), %d bytes", owner, len(records), size)
    return records


def _store_inputs(storage: Storage, staged: Path, owner: str, job_ids: list[str]) -> int:
    """Copy the staged file to every job's ``input`` key; undo the copies on failure."""
    done: list[str] = []
    size = 0
    try:
        for job_id in job_ids:
            size = storage.put_file(staged, job_key(owner, job_id, "input"))
            done.append(job_id)
    except BaseException:
        _remove_inputs(storage, owner, done)
        raise
    return size


def _remove_inputs(storage: Storage, owner: str, job_ids: list[str]) -> None:
    for job_id in job_ids:
        try:
            storage.delete(job_prefix(owner, job_id), recursive=True)
        except StorageError:
            logger.warning("cannot remove the input of job %s", job_id, exc_info=True)


def _create_jobs(
    store: JobStore, *, owner: str, job_ids: list[str], request: UploadRequest, filename: str, size: int
) -> list[JobRecord]:
    records = []
    for job_id, target in zip(job_ids, request.target_languages, strict=True):
        metadata: dict[str, object] = {"upload_group": job_ids[0]}
        if request.backends:
            metadata["backends"] = dict(request.backends)
        records.append(
            store.create(
                {
                    "id": job_id,
                    "user_id": owner,
                    "original_filename": filename,
                    "source_language": request.source_language,
                    "target_language": target,
                    "input_path": job_key(owner, job_id, "input"),
                    "input_size": size,
                    "job_metadata": metadata,
                }
            )
        )
    return records
