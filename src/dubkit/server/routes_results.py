"""A completed job's files: the dubbed video, a preview clip, the subtitles and the dub project.

The video is streamed with HTTP Range support, or on S3 storage redirected to a presigned URL.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from dubkit.errors import ConfigError, JobError, StorageError
from dubkit.media import MediaLimits, preview, probe
from dubkit.models.job import JobRecord
from dubkit.server.deps import Owner, Services
from dubkit.server.downloads import ranged_response
from dubkit.server.filenames import content_disposition
from dubkit.server.outputs import JobOutputs, download_name, find_outputs
from dubkit.server.routes_jobs import problems
from dubkit.server.services import ServerServices
from dubkit.storage import FsspecStorage, Storage

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter()

_MAX_TEXT = 32 * 1024 * 1024
_RESULT_LIMITS = MediaLimits(max_size=64 * 1024**3)
_DEFAULT_PREVIEW = 10.0


async def _outputs(services: ServerServices, job_id: str, owner: str) -> tuple[JobRecord, JobOutputs]:
    record = await services.store.call(lambda store: store.get(job_id, owner))
    outputs = await anyio.to_thread.run_sync(find_outputs, services.storage, record)
    return record, outputs


def _binary(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get(
    "/jobs/{job_id}/download",
    response_class=Response,
    responses={
        **_binary("video/mp4"),
        206: {"description": "Partial content"},
        307: {"description": "Redirect to a presigned S3 URL"},
        416: {"description": "Range not satisfiable"},
        **problems(404, 409),
    },
    summary="Download the dubbed video",
)
async def download(
    job_id: str,
    owner: Owner,
    services: Services,
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
) -> Response:
    """The dubbed MP4, with HTTP Range support; on S3 storage, a redirect to a presigned URL."""
    record, outputs = await _outputs(services, job_id, owner)
    name = download_name(record, outputs.media)
    presigned = await anyio.to_thread.run_sync(
        lambda: services.storage.presigned_url(
            outputs.media, expires_s=services.settings.presigned_url_seconds
        )
    )
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307, headers={"Cache-Control": "no-store"})
    size = await anyio.to_thread.run_sync(services.storage.size, outputs.media)
    return ranged_response(
        services.storage,
        outputs.media,
        size,
        media_type="video/mp4",
        filename=name,
        range_header=range_header,
    )


def _cut_preview(
    storage: Storage, key: str, *, start: float, end: float | None, max_seconds: float, work: Path
) -> Path:
    work.mkdir(parents=True)
    local = storage.local_path(key) if isinstance(storage, FsspecStorage) else None
    if local is None:
        local = work / "result.mp4"
        storage.get_file(key, local)
    info = probe(local, _RESULT_LIMITS, require_audio=False, verify=False, cwd=work)
    if end is None:
        end = min(start + min(_DEFAULT_PREVIEW, max_seconds), info.duration)
    if start >= info.duration:
        raise ConfigError(f"preview start {start:g} is past the end ({info.duration:.3f} s)", field="start")
    if end > info.duration + 1e-3:
        raise ConfigError(f"preview end {end:g} is past the end ({info.duration:.3f} s)", field="end")
    out = work / "preview.mp4"
    preview(local, start, end, out, max_seconds, cwd=work, limits=_RESULT_LIMITS)
    return out


@router.get(
    "/jobs/{job_id}/preview",
    response_class=Response,
    responses={**_binary("video/mp4"), **problems(404, 409, 422)},
    summary="A short clip of the dubbed video",
)
async def preview_clip(
    job_id: str,
    owner: Owner,
    services: Services,
    start: Annotated[float, Query(ge=0, le=1e7, description="Seconds.")] = 0.0,
    end: Annotated[float | None, Query(gt=0, le=1e7, description="Seconds (default: start + 10 s).")] = None,
) -> Response:
    """An MP4 clip of ``[start, end]`` (at most ``preview_max_seconds``; ``0 <= start < end <= duration``)."""
    max_seconds = services.settings.preview_max_seconds
    _record, outputs = await _outputs(services, job_id, owner)
    if end is not None and (end <= start or end - start > max_seconds):
        raise ConfigError(
            f"need start < end and end - start <= {max_seconds:g} s, got {start:g}..{end:g}", field="end"
        )
    work = services.settings.data_dir / "previews" / secrets.token_hex(8)
    try:
        clip = await anyio.to_thread.run_sync(
            lambda: _cut_preview(
                services.storage, outputs.media, start=start, end=end, max_seconds=max_seconds, work=work
            )
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        clip,
        media_type="video/mp4",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"},
        content_disposition_type="inline",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _read_text(storage: Storage, key: str) -> bytes:
    if storage.size(key) > _MAX_TEXT:
        raise StorageError(f"{key} is unexpectedly large")
    with storage.open_read(key) as handle:
        return handle.read()


async def _text(
    services: ServerServices, job_id: str, owner: str, which: str
) -> tuple[JobRecord, str, bytes]:
    record, outputs = await _outputs(services, job_id, owner)
    key: str | None = getattr(outputs, which)
    if key is None:
        raise JobError(f"job {job_id!r} has no {which} output", job_id=job_id)
    return record, key, await anyio.to_thread.run_sync(_read_text, services.storage, key)


def _text_response(record: JobRecord, key: str, data: bytes, media_type: str, suffix: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(
                download_name(record, key, suffix), disposition="inline"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/jobs/{job_id}/subtitles.srt",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **problems(404, 409)},
    summary="The dubbed subtitles (SRT)",
)
async def subtitles_srt(job_id: str, owner: Owner, services: Services) -> Response:
    """The translated subtitles as SubRip text."""
    record, key, data = await _text(services, job_id, owner, "srt")
    return _text_response(record, key, data, "text/plain; charset=utf-8", ".srt")


@router.get(
    "/jobs/{job_id}/subtitles.vtt",
    response_class=Response,
    responses={200: {"content": {"text/vtt": {"schema": {"type": "string"}}}}, **problems(404, 409)},
    summary="The dubbed subtitles (WebVTT)",
)
async def subtitles_vtt(job_id: str, owner: Owner, services: Services) -> Response:
    """The translated subtitles as WebVTT (for a ``<track>`` element)."""
    record, key, data = await _text(services, job_id, owner, "vtt")
    return _text_response(record, key, data, "text/vtt; charset=utf-8", ".vtt")


@router.get(
    "/jobs/{job_id}/project",
    response_model=dict[str, Any],
    responses=problems(404, 409),
    summary="The dub project with its quality report",
)
async def project(job_id: str, owner: Owner, services: Services) -> JSONResponse:
    """The dub project (``.dub.json``): segments, translations, timing and the per-line quality report."""
    _record, _key, data = await _text(services, job_id, owner, "project")
    try:
        content = json.loads(data)
    except ValueError as exc:
        raise StorageError(f"the project of job {job_id} is not JSON") from exc
    return JSONResponse(content, headers={"X-Content-Type-Options": "nosniff"})
