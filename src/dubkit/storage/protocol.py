"""The storage interface the server, runners and stages depend on."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = ["Storage"]


@runtime_checkable
class Storage(Protocol):
    """Files under one root, addressed by relative keys such as ``alice/0f3c/input``.

    Keys are validated (`dubkit.storage.paths.validate_key`); a finished write is visible whole or not at all.
    Every failure is a `dubkit.errors.StorageError`.
    """

    def open_write(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A stream to write ``key`` in chunks; the object appears when the block exits normally."""
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A stream reading ``key``."""
        ...

    def put_file(self, local_path: Path, key: str) -> int:
        """Copy a local file to ``key``; returns the bytes copied."""
        ...

    def get_file(self, key: str, local_path: Path) -> int:
        """Copy ``key`` to a local file (atomically); returns the bytes copied."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is a stored object."""
        ...

    def size(self, key: str) -> int:
        """The size of ``key`` in bytes."""
        ...

    def delete(self, key: str, *, recursive: bool = False) -> None:
        """Remove ``key`` (with ``recursive``: everything under it); a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``, sorted."""
        ...

    def presigned_url(self, key: str, *, expires_s: int = 3600) -> str | None:
        """A URL a client can fetch ``key`` from until it expires; ``None`` if the backend has none."""
        ...
