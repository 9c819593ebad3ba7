"""The JSON bodies of the API (pydantic), so the OpenAPI schema at ``/docs`` says what is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from dubkit.models.job import JobRecord, JobStatus
from dubkit.server.outputs import result_version

__all__ = [
    "AttemptOut",
    "BackendOut",
    "BackendsOut",
    "Health",
    "JobList",
    "JobLinks",
    "JobOut",
    "InstallHintOut",
    "LanguageOut",
    "LanguagePairOut",
    "LanguagesOut",
    "UploadOut",
    "job_out",
]

API = "/api/v1"


class JobLinks(BaseModel):
    """Relative URLs of what can be done with a job."""

    status: str
    progress: str = Field(description="The WebSocket of live progress.")
    download: str
    preview: str
    srt: str
    vtt: str
    project: str
    cancel: str
    segments: str = Field(description="The lines, to listen to and edit.")
    redub: str = Field(description="Where to POST to re-dub the changed lines.")


class AttemptOut(BaseModel):
    """One attempt at a job (a delivery to a worker)."""

    attempt: int = Field(description="1 for the first.")
    seconds: float = Field(description="How long it ran (to its last sign of life when its worker died).")
    outcome: str = Field(description="completed, failed, cancelled, retried or interrupted.")


class JobOut(BaseModel):
    """One dubbing job (one target language of an upload)."""

    id: str
    status: JobStatus
    stage: str | None
    progress: float = Field(ge=0.0, le=1.0)
    source_language: str
    target_language: str
    original_filename: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    error_message: str | None
    input_size: int | None
    output_size: int | None
    processing_time_seconds: float | None = Field(description="Seconds of processing, all attempts together.")
    attempts: list[AttemptOut] = Field(
        default_factory=list, description="The attempts a completed job took, when its runner lists them."
    )
    result_version: int | None = Field(
        default=None,
        description="The version of the result a download gives (1: the first dub, +1 per re-dub), if any.",
    )
    backends: dict[str, str] = Field(default_factory=dict, description="Backend names chosen at upload.")
    links: JobLinks


class UploadOut(BaseModel):
    """The jobs an upload created, one per target language."""

    jobs: list[JobOut]


class JobList(BaseModel):
    """A page of the caller's jobs, newest first."""

    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


class BackendOut(BaseModel):
    """A registered backend."""

    stage: str = Field(
        description="The capability: separator, vad, diarizer, transcriber, translator, synthesizer."
    )
    name: str
    available: bool
    extra: str | None = Field(description="The dubkit extra that installs it, if any.")
    builtin: bool
    description: str
    reason: str | None = Field(default=None, description="Why it is unavailable.")


class BackendsOut(BaseModel):
    """Every registered backend."""

    backends: list[BackendOut]


class LanguageOut(BaseModel):
    """A language dubkit knows."""

    code: str
    name: str


class LanguagePairOut(BaseModel):
    """A (source, target) pair the server's backends can dub."""

    source: str = Field(description="ISO 639-1, or `auto` (detected).")
    target: str
    translator: str | None = Field(description="The translator serving the pair (`null` for `auto`).")
    synthesizer: str = Field(description="The voice backend that speaks the target.")
    sources: list[str] = Field(
        default_factory=list, description="For `auto`: the detected languages that reach the target."
    )
    translators: list[str] = Field(
        default_factory=list, description="For `auto`: the translator of each of `sources`."
    )


class InstallHintOut(BaseModel):
    """What to install so that a translator reaches a pair."""

    source: str
    target: str
    hint: str


class LanguagesOut(BaseModel):
    """What a job may ask for, and what the server's backends can actually dub."""

    languages: list[LanguageOut] = Field(description="Every language code a job may name.")
    sources: list[LanguageOut] = Field(
        description="The spoken languages the transcriber hears, `auto` first."
    )
    voices: dict[str, str] = Field(description="Target language -> the voice backend that speaks it.")
    pairs: list[LanguagePairOut] = Field(description="Every (source, target) pair that can be dubbed.")
    translator: str = Field(description="The translator setting: a backend name, or `auto` (best per pair).")
    install_hints: list[InstallHintOut] = Field(
        default_factory=list, description="For pairs that cannot be dubbed: what to install to add them."
    )


class Health(BaseModel):
    """The server answers."""

    status: Literal["ok"] = "ok"
    version: str


def job_links(job_id: str) -> JobLinks:
    """The links of a job."""
    base = f"{API}/jobs/{job_id}"
    return JobLinks(
        status=f"{base}/status",
        progress=f"{base}/progress",
        download=f"{base}/download",
        preview=f"{base}/preview",
        srt=f"{base}/subtitles.srt",
        vtt=f"{base}/subtitles.vtt",
        project=f"{base}/project",
        cancel=f"{base}/cancel",
        segments=f"{base}/segments",
        redub=f"{base}/redub",
    )


def job_out(record: JobRecord) -> JobOut:
    """The API view of a stored job."""
    raw = record.job_metadata.get("backends")
    backends = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return JobOut(
        id=record.id,
        status=record.status,
        stage=record.stage,
        progress=record.progress,
        source_language=record.source_language,
        target_language=record.target_language,
        original_filename=record.original_filename,
        created_at=record.created_at,
        updated_at=record.updated_at,
        completed_at=record.completed_at,
        error_message=record.error_message,
        input_size=record.input_size,
        output_size=record.output_size,
        processing_time_seconds=record.processing_time_seconds,
        attempts=_attempts(record.job_metadata.get("attempt_history")),
        result_version=result_version(record),
        backends=backends,
        links=job_links(record.id),
    )


def _attempts(raw: object) -> list[AttemptOut]:
    """The attempts stored in ``job_metadata["attempt_history"]`` (none when absent or malformed)."""
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if isinstance(item, dict):
            try:
                out.append(AttemptOut.model_validate(item))
            except ValueError:
                continue
    return out
