"""Atomic streamed writes to a local file: a temp name in the same folder, fsync, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dubkit.atomicfile import fsync_path

__all__ = ["TEMP_SUFFIX", "atomic_stream"]

TEMP_SUFFIX = ".dubkit-tmp"
"""Suffix of in-progress writes; listings hide them and a crash leaves only such names behind."""


@contextmanager
def atomic_stream(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` in chunks; readers see the old file or the whole new one, never a part.

    The file appears (renamed from a temp name, after fsync) only when the block exits normally; on an
    exception the temp file is removed and ``path`` is untouched. A process killed mid-write leaves a
    ``.<name>.*.dubkit-tmp`` file, never ``path``.

    Yields:
        A binary stream to write to.

    Raises:
        OSError: The folder cannot be created or the file written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
