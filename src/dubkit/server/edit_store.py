"""The line editor's state of a job: its current dub project and the edits not re-dubbed yet, with an ETag.

The project is the current result's ``.dub.json``; the pending edits (`dubkit.models.project_edits`) are
kept beside the job's files as ``<owner>/<job_id>/edits.json``. Both are read and written here, on worker
threads, while the caller holds the job's lock (`EditStore.lock`), so two requests never interleave a
read and a write of one job. The ETag hashes the project and the pending edits: any edit, and any new
result version, changes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref

import attrs

from dubkit.errors import StorageError
from dubkit.models.job import JobRecord
from dubkit.models.project import DubProject
from dubkit.models.project_edits import ProjectEdits, prune_edits
from dubkit.server.outputs import find_outputs
from dubkit.storage import Storage, job_prefix

__all__ = ["MAX_PROJECT_BYTES", "EditState", "EditStore", "edits_key", "redub_project_key"]

MAX_PROJECT_BYTES = 64 * 1024 * 1024
"""The largest dub project (or edits file) the editor reads."""


def edits_key(record: JobRecord) -> str:
    """Where a job's pending edits are kept."""
    return job_prefix(record.user_id, record.id) + "edits.json"


def redub_project_key(record: JobRecord) -> str:
    """Where the edited project of a job's queued re-dub is written for its worker."""
    return job_prefix(record.user_id, record.id) + "redub-project.json"


@attrs.frozen
class EditState:
    """A job's current project and pending edits.

    Attributes:
        project: The current result's dub project.
        edits: The changes not re-dubbed yet (none of them already in ``project``).
        etag: The strong ETag of the two (quoted).
    """

    project: DubProject
    edits: ProjectEdits
    project_digest: str

    @property
    def etag(self) -> str:
        """The strong ETag of the project and the pending edits (quoted)."""
        return _etag(self.project_digest, self.edits)


def _etag(project_digest: str, edits: ProjectEdits) -> str:
    body = edits.model_dump_json(exclude_defaults=False)
    return '"' + hashlib.sha256(f"{project_digest}\n{body}".encode()).hexdigest()[:32] + '"'


def _read(storage: Storage, key: str) -> bytes:
    if storage.size(key) > MAX_PROJECT_BYTES:
        raise StorageError(f"{key} is unexpectedly large")
    with storage.open_read(key) as handle:
        return handle.read()


def _write(storage: Storage, key: str, data: bytes) -> None:
    with storage.open_write(key) as handle:
        handle.write(data)


class EditStore:
    """Reads and writes the editor's state of jobs (the blocking calls run on worker threads).

    Args:
        storage: The job storage.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, job_id: str) -> asyncio.Lock:
        """The lock to hold while reading and changing a job's edits (or queueing its re-dub)."""
        lock = self._locks.get(job_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[job_id] = lock
        return lock

    def load(self, record: JobRecord) -> EditState:
        """The job's current project and pending edits (edits a re-dub applied since are dropped).

        Raises:
            JobStateError: The job has no result.
            StorageError: The project is missing, too large or not a dub project.
        """
        outputs = find_outputs(self.storage, record)
        if outputs.project is None:
            raise StorageError(f"job {record.id} has no dub project")
        raw = _read(self.storage, outputs.project)
        try:
            project = DubProject.model_validate_json(raw)
        except ValueError as exc:
            raise StorageError(f"the dub project of job {record.id} is invalid") from exc
        edits = ProjectEdits()
        key = edits_key(record)
        if self.storage.exists(key):
            try:
                edits = ProjectEdits.model_validate_json(_read(self.storage, key))
            except ValueError as exc:
                raise StorageError(f"the pending edits of job {record.id} are invalid") from exc
        digest = hashlib.sha256(raw).hexdigest()
        return EditState(project=project, edits=prune_edits(project, edits), project_digest=digest)

    def save(self, record: JobRecord, edits: ProjectEdits) -> None:
        """Keep a job's pending edits (written atomically).

        Raises:
            StorageError: The storage refused.
        """
        _write(self.storage, edits_key(record), edits.model_dump_json(indent=1).encode())

    def write_redub_project(self, record: JobRecord, project: DubProject) -> str:
        """Write the edited project of a job's re-dub; returns its key.

        Raises:
            StorageError: The storage refused.
        """
        key = redub_project_key(record)
        _write(self.storage, key, project.model_dump_json().encode())
        return key
