"""Moving a file into or out of storage as a hard link, when both sides are on this machine's disk.

A job's run directory is mirrored to storage after every stage and restored before a re-dub
(`dubkit.jobs.checkpoints`): hundreds of megabytes for a ten-minute dub. With ``file://`` storage on the
same filesystem, a hard link gives the same file without copying (or fsyncing) a byte. That is safe for
files that are never changed in place: a run directory's files are written once, under a temp name, then
renamed (stage artifacts, unit caches); a later write replaces the name with a new file and leaves the
linked one as it was. Anything else (another filesystem, object storage, a link refused) falls back to a
copy, so callers always get a whole file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.localfile import TEMP_SUFFIX
from dubkit.storage.protocol import Storage

__all__ = ["get_linked", "put_linked"]


def _link(source: Path, target: Path) -> bool:
    """Hard-link ``source`` at ``target`` (a temp name, then an atomic rename); ``False`` when it cannot."""
    if target.is_file() and target.samefile(source):
        return True  # linked already (and rename() between two names of one file would do nothing)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    try:
        os.link(source, temp)
    except OSError:
        return False
    try:
        os.replace(temp, target)
    except OSError:
        temp.unlink(missing_ok=True)
        return False
    temp.unlink(missing_ok=True)  # still there only if the target became the same file meanwhile
    return True


def _local(storage: Storage, key: str) -> Path | None:
    return storage.local_path(key) if isinstance(storage, FsspecStorage) else None


def put_linked(storage: Storage, local_path: Path, key: str) -> int:
    """`Storage.put_file`, as a hard link where the storage is a folder on the same filesystem.

    Returns:
        The file's size.

    Raises:
        StorageError: ``local_path`` cannot be read or ``key`` written.
    """
    target = _local(storage, key)
    if target is not None and Path(local_path).is_file() and _link(Path(local_path), target):
        return Path(local_path).stat().st_size
    return storage.put_file(local_path, key)


def get_linked(storage: Storage, key: str, local_path: Path) -> int:
    """`Storage.get_file`, as a hard link where the storage is a folder on the same filesystem.

    Returns:
        The file's size.

    Raises:
        StorageError: ``key`` cannot be read or ``local_path`` written.
    """
    source = _local(storage, key)
    if source is not None and source.is_file() and _link(source, local_path):
        return local_path.stat().st_size
    return storage.get_file(key, local_path)
