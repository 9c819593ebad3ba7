"""``POST /api/v1/upload``: one streamed video, one job per target language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dubkit.models.languages import language_codes
from dubkit.server.admission import TooManyActiveJobsError
from dubkit.server.deps import Owner, Services
from dubkit.server.ingest import check_upload_room, jobs_from_staged
from dubkit.server.problems import Problem
from dubkit.server.schemas import UploadOut, job_out
from dubkit.server.upload_request import BACKEND_FIELDS, MAX_TARGETS, parse_upload_fields
from dubkit.server.uploads import staged_upload

__all__ = ["UPLOAD_PATH", "router"]

UPLOAD_PATH = "/upload"

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
    status: {"model": Problem, "content": {"application/problem+json": {}}}
    for status in (401, 413, 415, 422, 429)
}


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
    An owner with ``max_active_jobs_per_owner`` jobs waiting or running is refused (429, ``Retry-After``).
    """
    settings = services.settings
    try:
        await check_upload_room(services, owner)
    except TooManyActiveJobsError as refused:
        refused.headers["Connection"] = "close"  # refused before the body: do not read it
        raise
    async with staged_upload(request, settings.upload_dir, settings.max_upload_bytes) as staged:
        asked = parse_upload_fields(staged.fields, services.registry)
        await services.languages.check(asked)  # a pair the backends cannot dub: refused before any work
        assert staged.path is not None
        records = await jobs_from_staged(
            services, owner=owner, path=staged.path, request=asked, filename=staged.filename
        )
    return UploadOut(jobs=[job_out(r) for r in records])
