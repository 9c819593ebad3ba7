"""A job's run directory mirrored to storage, so another machine can resume it from its finished stages.

A worker keeps a job's pipeline run directory on local disk (``<work>/run``). After every stage that
commits, `RunCheckpoints.save` copies what is new or changed in it to ``<owner>/<job_id>/run/`` in the
job's storage (stage files first, each stage's ``artifact.json`` commit marker last, so a marker in
storage always comes with its files); before an attempt, `RunCheckpoints.restore` copies back what the
local folder lacks. A job redelivered to a machine that never saw it (its work folder gone with a dead
machine) therefore resumes where the last attempt's last committed stage left it, exactly as on the
same machine. Temp files of interrupted writes (dot files) are never copied.

The copies cost storage traffic of about the run directory's size once (the extracted audio, the
stems, the clips and the mix), and its size in storage while the job lives: a completed job keeps its
mirror so that it can be re-dubbed after edits on any worker (`dubkit.jobs.redub_step`); a job that
fails or is cancelled before its first result loses it (`discard_checkpoints`). With ``file://``
storage on the same filesystem the copies are hard links (`dubkit.storage.links`): a run directory's
files are written once and never changed in place, so the two can share them; a stem a separation is
still writing (``.part``) is always copied.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dubkit.errors import StorageError
from dubkit.pipeline.cache import ARTIFACT_FILE
from dubkit.storage.links import get_linked, put_linked
from dubkit.storage.paths import job_prefix
from dubkit.storage.protocol import Storage

__all__ = ["RunCheckpoints", "checkpoint_prefix", "discard_checkpoints"]

logger = logging.getLogger(__name__)


def checkpoint_prefix(owner: str, job_id: str) -> str:
    """Where a job's run directory is mirrored: ``<owner>/<job_id>/run/``."""
    return job_prefix(owner, job_id) + "run/"


def discard_checkpoints(storage: Storage, owner: str, job_id: str) -> None:
    """Remove a job's mirrored run directory; a failure is logged, not raised."""
    try:
        storage.delete(checkpoint_prefix(owner, job_id).rstrip("/"), recursive=True)
    except StorageError:
        logger.warning("job %s: could not remove its run checkpoints", job_id, exc_info=True)


class RunCheckpoints:
    """Mirrors one job's run directory to storage (see the module notes).

    Args:
        storage: The job's storage.
        owner: The job's owner.
        job_id: The job.
        run_dir: The local run directory.
    """

    def __init__(self, storage: Storage, owner: str, job_id: str, run_dir: Path) -> None:
        self.storage = storage
        self.prefix = checkpoint_prefix(owner, job_id)
        self.run_dir = run_dir
        self._copied: dict[str, tuple[int, int]] = {}

    def restore(self) -> int:
        """Copy every mirrored file the local run directory lacks; returns how many were copied.

        Raises:
            StorageError: The storage cannot be listed or read.
        """
        copied = 0
        for key in self.storage.list(self.prefix):
            rel = key[len(self.prefix) :]
            local = self.run_dir / rel
            if not rel or local.exists() or any(part.startswith(".") for part in rel.split("/")):
                continue
            if local.name.endswith(_IN_PLACE):
                self.storage.get_file(key, local)
            else:
                get_linked(self.storage, key, local)
            self._copied[rel] = _stamp(local)
            copied += 1
        return copied

    def save(self) -> int:
        """Copy the files that are new or changed since the last save or restore; returns how many.

        Raises:
            StorageError: The storage cannot be written.
        """
        changed = [
            (rel, path, stamp)
            for rel, path in self._files()
            if self._copied.get(rel) != (stamp := _stamp(path))
        ]
        changed.sort(key=lambda item: item[1].name == ARTIFACT_FILE)  # commit markers last
        for rel, path, stamp in changed:
            if path.name.endswith(_IN_PLACE):
                self.storage.put_file(path, self.prefix + rel)
            else:
                put_linked(self.storage, path, self.prefix + rel)
            self._copied[rel] = stamp
        return len(changed)

    def _files(self) -> list[tuple[str, Path]]:
        if not self.run_dir.is_dir():
            return []
        files = []
        for path in self.run_dir.rglob("*"):
            rel = path.relative_to(self.run_dir).as_posix()
            if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
                files.append((rel, path))
        return files


_IN_PLACE = ".part"
"""Files a backend may still change in place (a separation's partial stems): copied, never linked."""


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
