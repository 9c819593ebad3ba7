"""The line editor: a completed job's lines, changes to one line, and a short clip of a line to listen to.

``GET /jobs/{job_id}/segments`` answers with an ETag; ``PATCH /jobs/{job_id}/segments/{segment_id}`` needs
it in ``If-Match`` (428 without, 412 when another change came first, so two tabs never overwrite each
other). Changes are kept until ``POST /jobs/{job_id}/redub`` (`dubkit.server.routes_redub`) re-dubs them;
a refused change leaves everything as it was.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Response
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from dubkit.errors import JobStateError, SegmentNotFoundError
from dubkit.jobs.ticket import backend_choices
from dubkit.media import MediaLimits
from dubkit.media.line_audio import MAX_LINE_AUDIO_SECONDS, cut_line_audio
from dubkit.models.job import JobRecord, JobStatus
from dubkit.models.project import DubProject, ProjectSegment
from dubkit.models.project_edits import LineChange, apply_change
from dubkit.server.deps import Owner, Services
from dubkit.server.edit_store import EditState
from dubkit.server.outputs import find_outputs, result_version
from dubkit.server.problems import ProblemError
from dubkit.server.routes_jobs import problems
from dubkit.server.segment_schemas import LineChangeIn, SegmentsOut
from dubkit.server.segment_views import segments_view
from dubkit.server.services import ServerServices
from dubkit.storage import FsspecStorage, Storage

__all__ = ["etag_matches", "router"]

router = APIRouter()

_PAD_SECONDS = 0.2
_LIMITS = MediaLimits(max_size=64 * 1024**3)
_ETAG_HEADER = {
    "ETag": {"description": "The version of the lines and pending changes.", "schema": {"type": "string"}}
}
_IF_MATCH = "The ETag of `GET /jobs/{job_id}/segments` (required: 428 without it, 412 when it is stale)."


def etag_matches(if_match: str, etag: str) -> bool:
    """Whether an ``If-Match`` header holds ``etag`` (strong comparison; ``*`` matches any)."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag in tags


async def job_record(services: ServerServices, job_id: str, owner: str) -> JobRecord:
    """The caller's job (404 for another owner's)."""
    return await services.store.call(lambda store: store.get(job_id, owner))


async def load_state(services: ServerServices, record: JobRecord) -> EditState:
    """The job's current project and pending edits."""
    return await anyio.to_thread.run_sync(services.edits.load, record)


async def view(
    services: ServerServices, record: JobRecord, state: EditState, response: Response
) -> SegmentsOut:
    """The lines with their pending changes, with the ETag in ``response``."""
    voices = await services.voices.voices(backend_choices(record.job_metadata), record.target_language)
    response.headers["ETag"] = state.etag
    response.headers["Cache-Control"] = "no-cache"
    return segments_view(record.id, result_version(record) or 1, state.project, state.edits, voices)


def require_editable(record: JobRecord) -> None:
    """Edits need a completed job with no re-dub queued or running.

    Raises:
        JobStateError: It is not.
    """
    if record.status is not JobStatus.COMPLETED:
        raise JobStateError(
            record.id, record.status.value, "its lines can be changed once it completed and no re-dub runs"
        )


def require_match(if_match: str | None, state: EditState) -> None:
    """Refuse a change without ``If-Match`` (428) or with a stale one (412).

    Raises:
        ProblemError: 428 or 412 (with the current ETag).
    """
    if if_match is None:
        raise ProblemError(
            428,
            "send If-Match with the ETag of GET /jobs/{job_id}/segments, so that a change never overwrites "
            "one you have not seen",
            code="precondition_required",
        )
    if not etag_matches(if_match, state.etag):
        raise ProblemError(
            412,
            "the lines changed since you read them (another change or a new result): read them again "
            "with GET /jobs/{job_id}/segments and send the new ETag",
            code="stale_etag",
            headers={"ETag": state.etag},
        )


def segment_of(project: DubProject, segment_id: str) -> ProjectSegment:
    """The project's line ``segment_id``.

    Raises:
        SegmentNotFoundError: There is none.
    """
    for segment in project.segments:
        if segment.id == segment_id:
            return segment
    raise SegmentNotFoundError(segment_id)


@router.get(
    "/jobs/{job_id}/segments",
    response_model=SegmentsOut,
    responses={200: {"headers": _ETAG_HEADER}, **problems(404, 409)},
    summary="The lines of a dub, to listen to and edit",
)
async def list_segments(job_id: str, owner: Owner, services: Services, response: Response) -> SegmentsOut:
    """Every line of the job's current result, with the changes not re-dubbed yet.

    Each line has its times, speaker, voice, source text, translation, candidates, quality and flags, and
    its sentence; the voices a speaker may get come with them. While a re-dub runs: the lines of the last
    result. 409 before the job's first result.
    """
    record = await job_record(services, job_id, owner)
    state = await load_state(services, record)
    return await view(services, record, state, response)


@router.patch(
    "/jobs/{job_id}/segments/{segment_id}",
    response_model=SegmentsOut,
    responses={200: {"headers": _ETAG_HEADER}, **problems(400, 404, 409, 412, 422, 428)},
    summary="Change a line: its translation, its speaker's voice, or keep its original speech",
)
async def edit_segment(
    job_id: str,
    segment_id: str,
    *,
    change: LineChangeIn,
    owner: Owner,
    services: Services,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match", description=_IF_MATCH)] = None,
) -> SegmentsOut:
    """Change one line (see the fields); the change waits for `POST /jobs/{job_id}/redub`.

    A line's ``translation`` is that line alone (for a line of a longer sentence, its piece; the sentence
    then plays as its pieces); ``sentence_translation`` replaces the whole sentence, which the re-dub cuts
    into its lines again (their own changes are dropped); ``voice`` changes the voice of every line of the
    line's speaker. Answers with every line (and the new ETag). Nothing changes when the request is
    refused: 409 (not completed, or a re-dub runs), 428 (no If-Match), 412 (stale), 404 (no such line),
    422 (a text too long or with control characters, a voice the synthesizer does not have, a body that
    is not JSON), 400 (a body that cannot be read as text at all: not UTF-8).
    """
    record = await job_record(services, job_id, owner)
    require_editable(record)
    async with services.edits.lock(job_id):
        record = await job_record(services, job_id, owner)
        require_editable(record)
        state = await load_state(services, record)
        if if_match is not None:
            segment_of(state.project, segment_id)
        require_match(if_match, state)
        voices = await services.voices.voices(backend_choices(record.job_metadata), record.target_language)
        wanted = LineChange.model_validate(change.model_dump(exclude_unset=True))
        edits = apply_change(state.project, state.edits, segment_id, wanted, voices)
        await anyio.to_thread.run_sync(services.edits.save, record, edits)
        changed = EditState(project=state.project, edits=edits, project_digest=state.project_digest)
    return await view(services, record, changed, response)


def _span(project: DubProject, segment: ProjectSegment, track: str) -> tuple[float, float]:
    """Seconds to cut for a line: its slot, and on the dub track wherever its clip plays too."""
    start, end = segment.start, segment.end
    if track == "dub":
        timing = segment.timing
        if timing is None and segment.sentence is not None:
            sentence = next((s for s in project.sentences if s.id == segment.sentence), None)
            timing = sentence.timing if sentence is not None else None
        if timing is not None:
            start, end = min(start, timing.start), max(end, timing.end)
    start = max(0.0, start - _PAD_SECONDS)
    return start, min(end + _PAD_SECONDS, start + MAX_LINE_AUDIO_SECONDS)


def _cut(storage: Storage, key: str, start: float, end: float, work: Path) -> Path:
    work.mkdir(parents=True)
    local = storage.local_path(key) if isinstance(storage, FsspecStorage) else None
    if local is None:
        local = work / "media"
        storage.get_file(key, local)
    return cut_line_audio(local, start, end, work / "line.wav", cwd=work, limits=_LIMITS)


def _wav() -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get(
    "/jobs/{job_id}/segments/{segment_id}/audio",
    response_class=Response,
    responses={**_wav(), **problems(404, 409, 422)},
    summary="A short clip of one line, to listen to",
)
async def segment_audio(
    job_id: str,
    segment_id: str,
    owner: Owner,
    services: Services,
    track: Annotated[
        Literal["source", "dub"], Query(description="`source`: the original speech; `dub`: the dubbed line.")
    ] = "dub",
) -> Response:
    """The line as a mono WAV (at most 24 kHz and 60 s), with 0.2 s around it.

    ``source`` is cut from the input, ``dub`` from the current result's dub track (where the line's clip
    plays). The video is not touched.
    """
    record = await job_record(services, job_id, owner)
    state = await load_state(services, record)
    segment = segment_of(state.project, segment_id)
    start, end = _span(state.project, segment, track)
    if track == "source":
        if not record.input_path:
            raise JobStateError(job_id, record.status.value, "its input is gone")
        key = record.input_path
    else:
        key = (await anyio.to_thread.run_sync(find_outputs, services.storage, record)).media
    work = services.settings.data_dir / "previews" / secrets.token_hex(8)
    try:
        clip = await anyio.to_thread.run_sync(lambda: _cut(services.storage, key, start, end, work))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        clip,
        media_type="audio/wav",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"},
        content_disposition_type="inline",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
