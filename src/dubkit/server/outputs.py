"""Where a completed job's files are in storage, and what to name them for the client.

A job's result is versioned: its first dub is version 1 (``<owner>/<job_id>/output/``), each re-dub after
edits the next (``output-v<N>/``). ``output_path`` names the current version's media; the version before
stays in place, and is what a client downloads, until the re-dub that replaces it completes.
"""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath

import attrs

from dubkit.errors import JobStateError, StorageError
from dubkit.models.job import JobRecord, JobStatus
from dubkit.storage import Storage, job_prefix

__all__ = ["JobOutputs", "download_name", "find_outputs", "result_version"]


@attrs.frozen
class JobOutputs:
    """The storage keys of a completed job's files (``None`` for one that is missing)."""

    media: str
    srt: str | None
    vtt: str | None
    project: str | None


def result_version(record: JobRecord) -> int | None:
    """The version of a job's current result (1 for the first dub), ``None`` before it has one."""
    if not record.output_path:
        return None
    folder = PurePosixPath(record.output_path).parent.name
    if folder.startswith("output-v") and folder[len("output-v") :].isdigit():
        return int(folder[len("output-v") :])
    return 1


def find_outputs(storage: Storage, record: JobRecord) -> JobOutputs:
    """The keys of a job's current result, subtitles and project (while it is re-dubbed: the last result).

    Raises:
        JobStateError: The job has no result (it has not completed, or never will).
        StorageError: The result is missing from storage.
    """
    if not record.output_path or record.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobStateError(record.id, record.status.value, "its result exists once it completed")
    prefix = record.output_path.rpartition("/")[0] + "/"
    if not prefix.startswith(job_prefix(record.user_id, record.id)):
        raise StorageError(f"the result of job {record.id} is not in its folder")
    keys = [k for k in storage.list(prefix) if "/" not in k[len(prefix) :]]
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
