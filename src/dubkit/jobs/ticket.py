"""What a worker needs to know to run one job, whether it came from the job store or a queue message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.models.job import JobRecord

__all__ = ["JobTicket", "RedubStep", "backend_choices", "redub_step"]


def backend_choices(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The user's backend choices of a job: ``job_metadata["backends"]`` (field name -> backend name).

    Values are passed on as they are (names are checked when the job's pipeline is built); a missing or
    empty entry means the worker's own backends.
    """
    raw = metadata.get("backends")
    if not isinstance(raw, Mapping):
        return {}
    return {str(field): value if isinstance(value, str) else repr(value) for field, value in raw.items()}


@attrs.frozen
class RedubStep:
    """A re-dub of a completed job after edits: the job's next result version.

    Attributes:
        version: The result version it makes (2 for the first re-dub).
        project_key: The storage key of the edited dub project to re-dub.
    """

    version: int
    project_key: str

    def to_dict(self) -> dict[str, object]:
        """The step as stored in ``job_metadata["redub"]`` and sent in a queue message."""
        return {"version": self.version, "project": self.project_key}


def redub_step(raw: object) -> RedubStep | None:
    """The re-dub step described by ``job_metadata["redub"]`` (or a message), ``None`` when there is none."""
    if not isinstance(raw, Mapping):
        return None
    version, key = raw.get("version"), raw.get("project")
    if not isinstance(version, int) or version < 2 or not isinstance(key, str) or not key:
        return None
    return RedubStep(version=version, project_key=key)


@attrs.frozen
class JobTicket:
    """One job as a worker sees it.

    Attributes:
        job_id: The job.
        owner: Its owner (the first part of its storage keys).
        input_key: The input's storage key.
        original_filename: The name the owner uploaded (the local input and the outputs are named after it).
        target_language: The language to dub into.
        source_language: The speech's language, or ``None``/``"auto"`` to detect it.
        backends: Backend choices for this job (`dubkit.pipeline.build.PipelineConfig` field name -> backend
            name); empty for the worker's own.
        redub: For a re-dub of a completed job after edits, what to re-dub; ``None`` for the first dub.
    """

    job_id: str
    owner: str
    input_key: str
    original_filename: str
    target_language: str
    source_language: str | None
    backends: Mapping[str, str] = attrs.field(factory=dict, eq=False, hash=False)
    redub: RedubStep | None = None

    @property
    def version(self) -> int:
        """The result version this attempt makes (1 for the first dub)."""
        return 1 if self.redub is None else self.redub.version

    @classmethod
    def from_record(cls, record: JobRecord) -> JobTicket:
        """The ticket of a stored job (an empty ``input_key`` when it has none)."""
        return cls(
            job_id=record.id,
            owner=record.user_id,
            input_key=record.input_path or "",
            original_filename=record.original_filename,
            target_language=record.target_language,
            source_language=record.source_language,
            backends=backend_choices(record.job_metadata),
            redub=redub_step(record.job_metadata.get("redub")) if record.output_path else None,
        )
