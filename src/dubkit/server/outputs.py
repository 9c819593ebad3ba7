"""Where a completed job's files are in storage, and what to name them for the client."""

from __future__ import annotations

from pathlib import PurePath

import attrs

from dubkit.errors import JobStateError, StorageError
from dubkit.models.job import JobRecord, JobStatus
from dubkit.storage import Storage, job_prefix

__all__ = ["JobOutputs", "download_name", "find_outputs"]


@attrs.frozen
class JobOutputs:
    """The storage keys of a completed job's files (``None`` for one that is missing)."""

    media: str
    srt: str | None
    vtt: str | None
    project: str | None


def find_outputs(storage: Storage, record: JobRecord) -> JobOutputs:
    """The keys of a completed job's result, subtitles and project.

    Raises:
        JobStateError: The job has not completed (its result does not exist yet, or never will).
        StorageError: The result is missing from storage.
    """
    if record.status is not JobStatus.COMPLETED or not record.output_path:
        raise JobStateError(record.id, record.status.value, "its result exists once it completed")
    prefix = job_prefix(record.user_id, record.id) + "output/"
    keys = storage.list(prefix)
    if record.output_path not in keys:
        raise StorageError(f"the result of job {record.id} is missing from storage")

    def ending(suffix: str) -> str | None:
        found = [k for k in keys if k.endswith(suffix)]
        return found[0] if found else None

    return JobOutputs(
        media=record.output_path, srt=ending(".srt"), vtt=ending(".vtt"), project=ending(".dub.json")
    )


def download_name(record: JobRecord, key: str, suffix: str | None = None) -> str:
    """The file name a client saves an output as: ``<original stem>.<target language><suffix>``."""
    stem = PurePath(record.original_filename).stem or "video"
    ending = suffix if suffix is not None else "".join(PurePath(key).suffixes[-1:])
    return f"{stem}.{record.target_language}{ending}"
