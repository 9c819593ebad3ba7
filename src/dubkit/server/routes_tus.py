"""Resumable uploads at ``/api/v1/uploads``: tus 1.0.0 with creation, termination and expiration.

``POST`` announces an upload (its length and, in ``Upload-Metadata``, the same fields as a multipart upload:
``filename``, ``source_language``, ``target_language``, backend names) and checks them at once; ``PATCH``
appends bytes at ``Upload-Offset``, streamed to the upload's data file; ``HEAD`` tells how far it got;
``DELETE`` drops it. When the last byte arrives the file takes the multipart upload's path
(`dubkit.server.ingest`): probe, inputs, one job per target language. The job ids come back in the
``Dubkit-Job-Ids`` header (and from ``HEAD``/``GET`` on the upload afterwards).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Annotated, BinaryIO

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from dubkit.errors import JobNotFoundError, UploadTooLargeError
from dubkit.jobs import JobStore
from dubkit.models.job import JobRecord
from dubkit.server.admission import TooManyActiveJobsError
from dubkit.server.deps import Owner, Services
from dubkit.server.ingest import check_upload_room, jobs_from_staged
from dubkit.server.problems import ProblemError
from dubkit.server.schemas import JobOut, job_out
from dubkit.server.services import ServerServices
from dubkit.server.tus_protocol import (
    CHUNK_CONTENT_TYPE,
    EXTENSIONS,
    TUS_VERSION,
    check_version,
    http_date,
    parse_length,
    parse_metadata,
)
from dubkit.server.tus_store import TusUpload
from dubkit.server.upload_request import BACKEND_FIELDS, UploadRequest, parse_upload_fields

__all__ = ["JOB_IDS_HEADER", "TUS_PATH", "TusUploadOut", "router"]

logger = logging.getLogger(__name__)

TUS_PATH = "/uploads"
JOB_IDS_HEADER = "Dubkit-Job-Ids"
_FIELDS = ("source_language", "target_language", *BACKEND_FIELDS)
_BATCH = 1024 * 1024


async def _tus_request(request: Request) -> None:
    check_version(request.headers)


router = APIRouter(include_in_schema=False)
TusRequest = Annotated[None, Depends(_tus_request)]


class TusUploadOut(BaseModel):
    """A resumable upload, as ``GET /uploads/{id}`` tells it."""

    id: str
    offset: int = Field(ge=0)
    length: int = Field(ge=0)
    expires_at: datetime
    finished: bool
    jobs: list[JobOut]


def _fields(metadata: dict[str, str]) -> dict[str, list[str]]:
    """The upload fields of tus metadata (the same names as the multipart form's)."""
    return {name: [metadata[name]] for name in _FIELDS if name in metadata}


def _filename(metadata: dict[str, str]) -> str | None:
    return metadata.get("filename", metadata.get("name"))


def _location(upload: TusUpload, request: Request) -> str:
    return str(request.url_for("tus_head", upload_id=upload.id).path)


def _state_headers(upload: TusUpload) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Upload-Expires": http_date(upload.expires_at),
        "Cache-Control": "no-store",
    }
    if upload.job_ids is not None:
        headers[JOB_IDS_HEADER] = ",".join(upload.job_ids)
    return headers


@router.options(TUS_PATH, status_code=204)
async def tus_options(owner: Owner, services: Services) -> Response:
    """What this tus server supports (with a key, as every API route but ``/health``)."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(services.settings.max_upload_bytes),
        },
    )


@router.post(TUS_PATH, status_code=201)
async def tus_create(request: Request, owner: Owner, services: Services, _tus: TusRequest) -> Response:
    """Announce an upload: ``Upload-Length`` and ``Upload-Metadata``, checked now, before any byte is sent.

    Raises 413 over the size cap, 422 for bad languages or backends or a language pair the backends cannot
    dub, 429 when the owner has too many jobs running or too many unfinished uploads.
    """
    headers = request.headers
    if "upload-defer-length" in headers:
        raise ProblemError(
            400, "Upload-Defer-Length is not supported; send Upload-Length", code="tus_bad_header"
        )
    length = parse_length(headers.get("upload-length"), "Upload-Length")
    maximum = services.settings.max_upload_bytes
    if length > maximum:
        raise UploadTooLargeError(length, maximum)
    if length == 0:
        raise ProblemError(400, "Upload-Length must be at least 1", code="tus_bad_header")
    metadata = parse_metadata(headers.get("upload-metadata"))
    asked = parse_upload_fields(_fields(metadata), services.registry)
    await services.languages.check(asked)  # a pair the backends cannot dub: refused before any byte
    await check_upload_room(services, owner, len(asked.target_languages))
    uploads = services.tus
    await uploads.sweep()
    upload = uploads.reserve(owner, length, metadata)
    try:
        await uploads.persist(upload, create_data=True)
    except BaseException:
        await uploads.discard(upload)
        raise
    logger.info("tus upload %s by %s: %d bytes announced", upload.id, owner, length)
    return Response(
        status_code=201,
        headers={"Location": _location(upload, request), "Upload-Expires": http_date(upload.expires_at)},
    )


@router.head(TUS_PATH + "/{upload_id}", name="tus_head")
async def tus_head(upload_id: str, owner: Owner, services: Services, _tus: TusRequest) -> Response:
    """How far the upload got (``Upload-Offset``), and its jobs once finished (``Dubkit-Job-Ids``)."""
    upload = services.tus.get(upload_id, owner)
    return Response(status_code=200, headers=_state_headers(upload))


@router.get(TUS_PATH + "/{upload_id}", response_model=TusUploadOut)
async def tus_get(upload_id: str, owner: Owner, services: Services) -> TusUploadOut:
    """The upload as JSON, with its jobs once finished."""
    upload = services.tus.get(upload_id, owner)
    ids = list(upload.job_ids or [])

    def read(store: JobStore) -> list[JobRecord]:
        found = []
        for job_id in ids:
            try:
                found.append(store.get(job_id, owner))
            except JobNotFoundError:
                continue
        return found

    records = await services.store.call(read) if ids else []
    return TusUploadOut(
        id=upload.id,
        offset=upload.offset,
        length=upload.length,
        expires_at=datetime.fromtimestamp(upload.expires_at, timezone.utc),
        finished=upload.finished,
        jobs=[job_out(r) for r in records],
    )


@router.delete(TUS_PATH + "/{upload_id}", status_code=204)
async def tus_delete(upload_id: str, owner: Owner, services: Services, _tus: TusRequest) -> Response:
    """Drop the upload and its bytes (the jobs of a finished upload stay)."""
    upload = services.tus.get(upload_id, owner)
    with services.tus.busy(upload):
        await services.tus.discard(upload)
    return Response(status_code=204)


@router.patch(TUS_PATH + "/{upload_id}", status_code=204)
async def tus_patch(
    upload_id: str, request: Request, owner: Owner, services: Services, _tus: TusRequest
) -> Response:
    """Append the body at ``Upload-Offset``; the last byte turns the upload into jobs.

    409 when ``Upload-Offset`` is not the upload's offset, 415 for another ``Content-Type`` than
    ``application/offset+octet-stream``, 413 when the body would pass ``Upload-Length``, 423 while another
    request writes the upload. A body cut short keeps what arrived. An empty PATCH at the end retries the
    job creation of an upload that was refused with 429.
    """
    upload = services.tus.get(upload_id, owner)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != CHUNK_CONTENT_TYPE:
        raise ProblemError(415, f"send the bytes as {CHUNK_CONTENT_TYPE}", code="tus_content_type")
    offset = parse_length(request.headers.get("upload-offset"), "Upload-Offset")
    with services.tus.busy(upload):
        if offset != upload.offset:
            raise ProblemError(
                409,
                f"Upload-Offset is {offset} but the upload is at {upload.offset}",
                code="tus_offset_mismatch",
                headers={"Upload-Offset": str(upload.offset)},
            )
        if not upload.finished:
            await _receive(request, services, upload)
            if upload.offset == upload.length:
                await _finish(services, upload)
    return Response(status_code=204, headers=_state_headers(upload))


async def _receive(request: Request, services: ServerServices, upload: TusUpload) -> None:
    """Append the body to the data file in batches; the length is enforced while reading."""
    room = upload.length - upload.offset
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > room:
        raise UploadTooLargeError(upload.offset + int(declared), upload.length)
    path = services.tus.data_path(upload)
    handle: BinaryIO = await anyio.to_thread.run_sync(lambda: path.open("ab"))
    batch: list[bytes] = []
    batched = 0

    async def flush() -> None:
        nonlocal batch, batched
        if batch:
            data = b"".join(batch)
            batch, batched = [], 0
            await anyio.to_thread.run_sync(lambda: (handle.write(data), handle.flush()))
            upload.offset += len(data)

    try:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > room:
                raise UploadTooLargeError(upload.offset + received, upload.length)
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _BATCH:
                await flush()
    except ClientDisconnect:
        logger.info("tus upload %s: client left at %d bytes", upload.id, upload.offset + batched)
        raise
    finally:
        try:
            await flush()  # keep what arrived: the client resumes from there
        finally:
            await anyio.to_thread.run_sync(handle.close)


async def _finish(services: ServerServices, upload: TusUpload) -> None:
    """The whole file is here: probe it and create the jobs, as a multipart upload does."""
    try:
        asked: UploadRequest = parse_upload_fields(_fields(upload.metadata), services.registry)
        records = await jobs_from_staged(
            services,
            owner=upload.owner,
            path=services.tus.data_path(upload),
            request=asked,
            filename=_filename(upload.metadata),
        )
    except TooManyActiveJobsError:
        raise  # the file stays: an empty PATCH at the end retries once a job has finished
    except BaseException:
        await services.tus.discard(upload)
        raise
    await services.tus.finish(upload, [r.id for r in records])
