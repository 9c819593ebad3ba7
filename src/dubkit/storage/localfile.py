"""Atomic streamed writes to a local file: a temp name in the same folder, fsync, then rename."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dubkit.atomicfile import atomic_writer

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
    with atomic_writer(path, suffix=TEMP_SUFFIX) as handle:
        yield handle
