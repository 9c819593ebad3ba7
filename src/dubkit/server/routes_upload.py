"""``POST /api/v1/upload``: one streamed video, one job per target language."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request

from dubkit.errors import DubkitError, StorageError
from dubkit.jobs import JobStore
from dubkit.media import MediaLimits, probe
from dubkit.models.job import JobRecord
from dubkit.models.languages import language_codes
from dubkit.server.deps import Owner, Services
from dubkit.server.filenames import display_filename
from dubkit.server.problems import Problem
from dubkit.server.schemas import UploadOut, job_out
from dubkit.server.upload_request import BACKEND_FIELDS, MAX_TARGETS, UploadRequest, parse_upload_fields
from dubkit.server.uploads import staged_upload
from dubkit.storage import Storage, job_key, job_prefix

__all__ = ["UPLOAD_PATH", "router"]

UPLOAD_PATH = "/upload"

logger = logging.getLogger(__name__)

router = APIRouter()

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "target_language"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The video."},
                        "source_language": {
                            "type": "string",
                            "default": "auto",
                            "enum": ["auto", *language_codes()],
                        },
                        "target_language": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(language_codes())},
                            "minItems": 1,
                            "maxItems": MAX_TARGETS,
                            "uniqueItems": True,
                            "description": "Repeat the field, or send codes separated by commas.",
                        },
                        **{
                            kind: {"type": "string", "description": f"A registered {kind} (GET /backends)."}
                            for kind in BACKEND_FIELDS
                        },
                    },
                }
            }
        },
    }
}

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}} for status in (401, 413, 415, 422)
}


def _store_inputs(storage: Storage, staged: Path, owner: str, job_ids: list[str]) -> int:
    """Copy the staged file to every job's ``input`` key; undo the copies on failure."""
    done: list[str] = []
    size = 0
    try:
        for job_id in job_ids:
            size = storage.put_file(staged, job_key(owner, job_id, "input"))
            done.append(job_id)
    except BaseException:
        for job_id in done:
            try:
                storage.delete(job_prefix(owner, job_id), recursive=True)
            except StorageError:
                logger.warning("cannot remove the input of rejected job %s", job_id, exc_info=True)
        raise
    return size


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


@router.post(
    UPLOAD_PATH,
    status_code=201,
    response_model=UploadOut,
    responses=_PROBLEMS,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a video to dub into one or more languages",
)
async def upload(request: Request, owner: Owner, services: Services) -> UploadOut:
    """Stream a video (multipart field ``file``) to storage and create one job per target language.

    The body is never held in memory; one over the size cap is refused (413) before the rest is read. The
    type is decided by probing the content (415 for anything that is not accepted media). Each job gets its
    own copy of the input at ``<owner>/<job_id>/input``, so the jobs of one upload live and go independently.
    """
    settings = services.settings
    async with staged_upload(request, settings.upload_dir, settings.max_upload_bytes) as staged:
        asked = parse_upload_fields(staged.fields, services.registry)
        assert staged.path is not None
        path = staged.path
        limits = MediaLimits(max_size=settings.max_upload_bytes)
        await anyio.to_thread.run_sync(
            lambda: probe(path, limits, require_audio=True, verify=True), limiter=services.probe_slots
        )
        filename = display_filename(staged.filename)
        job_ids = [uuid.uuid4().hex for _ in asked.target_languages]
        size = await anyio.to_thread.run_sync(_store_inputs, services.storage, path, owner, job_ids)
        try:
            records = await services.store.call(
                lambda store: _create_jobs(
                    store, owner=owner, job_ids=job_ids, request=asked, filename=filename, size=size
                )
            )
        except DubkitError:
            await anyio.to_thread.run_sync(_remove_inputs, services.storage, owner, job_ids)
            raise
    for record in records:
        await services.enqueue(record)
    logger.info("upload by %s: %d job(s), %d bytes", owner, len(records), size)
    return UploadOut(jobs=[job_out(r) for r in records])


def _remove_inputs(storage: Storage, owner: str, job_ids: list[str]) -> None:
    for job_id in job_ids:
        try:
            storage.delete(job_prefix(owner, job_id), recursive=True)
        except StorageError:
            logger.warning("cannot remove the input of job %s", job_id, exc_info=True)
