"""`Storage` on an fsspec filesystem rooted at a URL: local disk, ``memory://`` or S3 (s3fs)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from dubkit.errors import DubkitError, StorageError
from dubkit.storage.localfile import TEMP_SUFFIX, atomic_stream
from dubkit.storage.options import S3Options
from dubkit.storage.paths import validate_key

__all__ = ["FsspecStorage"]

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_S3_BLOCK = 8 * 1024 * 1024  # multipart part size: bounds the memory one S3 write holds (S3 minimum 5 MiB)
_LOCAL = ("file", "local")
_S3 = ("s3", "s3a")
_SCHEMES = (*_LOCAL, *_S3, "memory")


class FsspecStorage:
    """Files under a root URL, through one fsspec filesystem.

    * ``file:///var/dubkit`` (or a plain path): writes go to a temp file that is fsynced and renamed.
    * ``memory://name``: for tests; note that fsspec's memory filesystem is shared by the whole process.
    * ``s3://bucket/prefix``: through s3fs (extra ``s3``); writes are multipart uploads completed only when
      the write succeeds (aborted otherwise), so an object is never seen half-written.

    Args:
        url: The root.
        s3: How to reach S3 (endpoint, credentials); only for ``s3://`` roots.

    Raises:
        StorageError: The scheme is not supported, options do not fit it, or s3fs is not installed.
    """

    def __init__(self, url: str, *, s3: S3Options | None = None) -> None:
        import fsspec
        from fsspec.core import split_protocol

        protocol, _ = split_protocol(url)
        scheme = protocol or "file"
        if scheme not in _SCHEMES:
            raise StorageError(
                f"unsupported storage scheme {scheme!r} (use file://, s3:// or memory://)", url=url
            )
        if s3 is not None and scheme not in _S3:
            raise StorageError("S3 options given for a storage root that is not s3://", url=url)
        kwargs: dict[str, object] = {}
        if scheme in _S3:
            kwargs = (s3 or S3Options()).to_s3fs()
            kwargs["use_listings_cache"] = False  # other processes write too
        try:
            fs = fsspec.filesystem(scheme, **kwargs)
        except ImportError as exc:
            raise StorageError(
                f"the {scheme}:// storage needs an optional package: {exc} (pip install 'dubkit[s3]')",
                url=url,
            ) from exc
        root = str(fs._strip_protocol(url)).rstrip("/")
        if scheme in _S3 and not root:
            raise StorageError("an s3:// storage root needs a bucket", url=url)
        self.url = url
        self.scheme = scheme
        self._fs: Any = fs
        self._root = root

    def __repr__(self) -> str:
        return f"FsspecStorage({self.url!r})"

    # --- streams ---------------------------------------------------------------------------------

    @contextmanager
    def open_write(self, key: str) -> Iterator[BinaryIO]:
        """Write ``key`` in chunks; the object appears only when the block exits without an exception.

        Yields:
            A binary stream; write it in chunks (nothing is held whole in memory).

        Raises:
            StorageError: The object cannot be written (errors of the stream raised in the block included;
                other exceptions pass through unchanged, and the write is discarded).
        """
        path = self._path(key)
        if self.scheme in _LOCAL:
            with self._translate("write", key), atomic_stream(Path(path)) as handle:
                yield handle
        elif self.scheme in _S3:
            with self._s3_write(key, path) as handle:
                yield handle
        else:
            with self._renamed_write(key, path) as handle:
                yield handle

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """Read ``key`` as a stream.

        Yields:
            A binary stream (seekable).

        Raises:
            StorageError: ``key`` does not exist or cannot be read.
        """
        path = self._path(key)
        with self._translate("read", key):
            handle = self._fs.open(path, "rb")
        try:
            with self._translate("read", key):
                yield handle
        finally:
            handle.close()

    # --- files -----------------------------------------------------------------------------------

    def put_file(self, local_path: Path, key: str) -> int:
        """Copy a local file to ``key``, streamed and atomic.

        Returns:
            The number of bytes copied.

        Raises:
            StorageError: ``local_path`` cannot be read or ``key`` written.
        """
        if not Path(local_path).is_file():
            raise StorageError(f"cannot read {str(local_path)!r}: not a file", url=self._url(key))
        with Path(local_path).open("rb") as source, self.open_write(key) as target:
            return _copy(source, target)

    def get_file(self, key: str, local_path: Path) -> int:
        """Copy ``key`` to a local file, streamed; the local file appears whole or not at all.

        Returns:
            The number of bytes copied.

        Raises:
            StorageError: ``key`` cannot be read or ``local_path`` written.
        """
        with (
            self.open_read(key) as source,
            self._translate("download", key),
            atomic_stream(Path(local_path)) as out,
        ):
            return _copy(source, out)

    # --- metadata --------------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """Whether ``key`` is an object (or a prefix with objects under it).

        Raises:
            StorageError: The backend cannot be asked.
        """
        with self._translate("check", key):
            return bool(self._fs.exists(self._path(key)))

    def size(self, key: str) -> int:
        """The size of the object ``key`` in bytes.

        Raises:
            StorageError: ``key`` is missing or not an object.
        """
        with self._translate("stat", key):
            info = self._fs.info(self._path(key))
        if info.get("type") != "file":
            raise StorageError(f"{key!r} is not a file", url=self._url(key))
        return int(info["size"])

    def delete(self, key: str, *, recursive: bool = False) -> None:
        """Remove ``key``; with ``recursive``, everything under it (a job folder). Missing is not an error.

        Raises:
            StorageError: The backend refused, or ``key`` is a folder and ``recursive`` is false.
        """
        path = self._path(key.removesuffix("/"))
        with self._translate("delete", key):
            if not self._fs.exists(path):
                return
            if self._fs.isdir(path) and not recursive:
                raise StorageError(f"{key!r} is a folder; pass recursive=True", url=self._url(key))
            self._fs.rm(path, recursive=recursive)
        logger.debug("deleted %s (recursive=%s)", self._url(key), recursive)

    def list(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` (such as a `dubkit.storage.paths.job_prefix`), sorted.

        In-progress local writes (temp names) are left out.

        Raises:
            StorageError: The prefix is unsafe or the backend cannot list.
        """
        base = self._path(prefix.removesuffix("/")) if prefix else self._root
        with self._translate("list", prefix):
            found = self._fs.find(base) if self._fs.exists(base) else []
        start = len(self._root) + 1 if self._root else 0
        keys = (str(p).lstrip("/") if not self._root else str(p)[start:] for p in found)
        return sorted(k for k in keys if not k.endswith(TEMP_SUFFIX))

    def presigned_url(self, key: str, *, expires_s: int = 3600) -> str | None:
        """A presigned HTTP URL for ``key`` on S3, valid ``expires_s`` seconds; ``None`` on other backends.

        Raises:
            StorageError: ``expires_s`` is out of range (1 s to 7 days) or the URL cannot be signed.
        """
        if self.scheme not in _S3:
            return None
        if not 1 <= expires_s <= 7 * 24 * 3600:
            raise StorageError(f"expires_s must be 1..604800, got {expires_s}", url=self._url(key))
        with self._translate("sign a URL for", key):
            return str(self._fs.url(self._path(key), expires=expires_s))

    def local_path(self, key: str) -> Path | None:
        """The file of ``key`` on this machine's disk for ``file://`` roots; ``None`` for other backends.

        For handing a stored file to ffmpeg without a copy. The file may not exist.

        Raises:
            StorageError: ``key`` is unsafe.
        """
        if self.scheme not in _LOCAL:
            return None
        return Path(self._path(key))

    # --- internals -------------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        validate_key(key)
        return f"{self._root}/{key}" if self._root else f"/{key}"

    def _url(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    @contextmanager
    def _s3_write(self, key: str, path: str) -> Iterator[BinaryIO]:
        with self._translate("write", key):
            handle = self._fs.open(path, "wb", autocommit=False, block_size=_S3_BLOCK)
        try:
            with self._translate("write", key):
                yield handle
                handle.close()
                handle.commit()
        except BaseException:
            try:
                handle.discard()  # aborts the multipart upload: no object appears
            finally:
                handle.closed = True
            raise

    @contextmanager
    def _renamed_write(self, key: str, path: str) -> Iterator[BinaryIO]:
        parent, _, name = path.rpartition("/")
        temp = f"{parent}/.{name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
        with self._translate("write", key):
            handle = self._fs.open(temp, "wb")
        try:
            with self._translate("write", key):
                yield handle
                handle.close()
                self._fs.mv(temp, path)
        except BaseException:
            handle.close()
            if self._fs.exists(temp):
                self._fs.rm(temp)
            raise

    @contextmanager
    def _translate(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except DubkitError:
            raise
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot {action} {self._url(key)}: {exc}", url=self._url(key)) from exc
        except Exception as exc:
            if _from_backend(exc):
                raise StorageError(f"cannot {action} {self._url(key)}: {exc}", url=self._url(key)) from exc
            raise


def _from_backend(exc: Exception) -> bool:
    module = type(exc).__module__
    return module.split(".")[0] in ("botocore", "aiobotocore", "aiohttp", "s3fs", "fsspec")


def _copy(source: BinaryIO, target: BinaryIO) -> int:
    total = 0
    while chunk := source.read(_CHUNK):
        target.write(chunk)
        total += len(chunk)
    return total
