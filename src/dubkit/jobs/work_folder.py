"""A worker's local work folder: one folder per job it holds, nothing else, and no other worker in it.

`WorkFolder.acquire` locks the folder for this process (``flock`` on ``.worker.lock``, which holds the
process id): a second worker started on the same folder gets a `ConfigError` naming the first one's pid,
while a folder whose worker died (the kernel dropped its lock) is taken over. Jobs are worked on in
``<root>/<job_id>/`` while the worker holds them (`WorkFolder.hold`); `WorkFolder.sweep` removes everything
else, and runs at start and after each job, so the folders of jobs that ended, failed over to another
worker or were cut short by a kill never pile up. (A job resumes from its run checkpoints in storage,
`dubkit.jobs.checkpoints`, wherever it runs next.) The lock relies on ``flock``: keep work folders on a
local disk.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TextIO

from dubkit.errors import ConfigError
from dubkit.storage.paths import validate_segment

__all__ = ["LOCK_NAME", "WorkFolder"]

logger = logging.getLogger(__name__)

LOCK_NAME = ".worker.lock"


class WorkFolder:
    """The work folder of one worker process (see the module notes).

    Args:
        root: The folder; created when missing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock_file: TextIO | None = None
        self._held: Counter[str] = Counter()
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"WorkFolder({str(self.root)!r})"

    def acquire(self) -> WorkFolder:
        """Lock the folder for this process and write its pid in the lock file.

        Raises:
            ConfigError: Another live worker holds the folder, or the folder cannot be written.
        """
        lock_path = self.root / LOCK_NAME
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the work folder {str(self.root)!r}: {exc}",
                field="data_dir",
                hint="point DUBKIT_DATA_DIR at a folder this user can write",
            ) from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(
                f"the work folder {str(self.root)!r} is in use by another live worker (pid {holder})",
                field="data_dir",
                hint="give each worker its own data folder (DUBKIT_DATA_DIR)",
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return self

    def release(self) -> None:
        """Unlock the folder (the lock file stays; the next worker takes it over)."""
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def path(self, job_id: str) -> Path:
        """The folder of ``job_id``.

        Raises:
            StorageError: ``job_id`` is not a safe folder name.
        """
        return self.root / validate_segment(job_id, what="job id")

    def hold(self, job_id: str) -> AbstractContextManager[Path]:
        """Work on ``job_id`` in its folder for the ``with`` block; afterwards sweep (`sweep`).

        Raises:
            StorageError: ``job_id`` is not a safe folder name.
        """
        return _Hold(self, job_id)

    def _take(self, job_id: str) -> None:
        with self._mutex:
            self._held[job_id] += 1

    def _drop(self, job_id: str) -> None:
        with self._mutex:
            self._held[job_id] -= 1
            if self._held[job_id] <= 0:
                del self._held[job_id]
        self.sweep()

    @property
    def held(self) -> frozenset[str]:
        """The jobs held now."""
        with self._mutex:
            return frozenset(self._held)

    def sweep(self) -> int:
        """Remove every entry of the folder that belongs to no job held now (the lock file stays).

        Returns:
            How many entries were removed.
        """
        removed = 0
        with self._mutex:
            try:
                entries = list(self.root.iterdir())
            except FileNotFoundError:
                return 0
            for entry in entries:
                if entry.name == LOCK_NAME or entry.name in self._held:
                    continue
                try:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
                    removed += 1
                except OSError:
                    logger.warning("cannot remove %s from the work folder", entry, exc_info=True)
        if removed:
            logger.info("swept %d entr%s from the work folder", removed, "y" if removed == 1 else "ies")
        return removed


class _Hold:
    """`WorkFolder.hold`'s context manager.

    A class, not a generator: a generator suspended in a job thread runs its clean-up (here: a sweep)
    wherever it is collected, and a child process forked by another thread with a ``preexec_fn`` (before
    it execs) collects it.
    """

    def __init__(self, folder: WorkFolder, job_id: str) -> None:
        self.folder = folder
        self.job_id = job_id
        self.path = folder.path(job_id)

    def __enter__(self) -> Path:
        self.folder._take(self.job_id)
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.folder._drop(self.job_id)
