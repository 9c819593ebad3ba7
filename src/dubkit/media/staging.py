"""Crash-safe outputs: ffmpeg writes a temp name beside the target, renamed into place on success."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from dubkit.atomicfile import fsync_path

__all__ = ["staged_output"]


@contextlib.contextmanager
def staged_output(path: Path) -> Iterator[Path]:
    """Yield a temp path in ``path``'s folder; on a clean exit fsync it and rename it to ``path``.

    On an error the temp file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        yield temp
        fsync_path(temp)
        os.replace(temp, path)
        fsync_path(path.parent)
    finally:
        temp.unlink(missing_ok=True)
