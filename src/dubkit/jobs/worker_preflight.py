"""Checks a worker makes before it takes any job, so a misconfigured worker stops at once with a clear error.

A worker that cannot reach its broker, or cannot write the storage it was told to use, would otherwise
start, take jobs and fail each of them (or retry forever); `check_broker` and `check_storage` turn both into
a `dubkit.errors.ConfigError` before the worker consumes anything. (A work folder shared with another live
worker is refused by `dubkit.jobs.work_folder.WorkFolder.acquire`.)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import redis

from dubkit.errors import ConfigError, StorageError
from dubkit.storage.protocol import Storage

__all__ = ["check_broker", "check_storage", "redact_url"]


def redact_url(url: str) -> str:
    """``url`` without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + netloc, parts.path, parts.query, parts.fragment))


def check_broker(redis_url: str, *, timeout_s: float = 5.0) -> None:
    """Connect to the broker's Redis and PING it.

    Raises:
        ConfigError: The URL is malformed, or Redis does not answer within ``timeout_s``.
    """
    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    except ValueError as exc:
        raise ConfigError(f"not a Redis URL: {redact_url(redis_url)!r} ({exc})", field="broker") from exc
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(
            f"cannot reach the broker at {redact_url(redis_url)}: {exc}",
            field="broker",
            hint="start Redis there, or pass the broker's URL with --broker",
        ) from exc
    finally:
        client.close()


def check_storage(storage_factory: Callable[[str], Storage], url: str) -> None:
    """Open the storage at ``url``, write a small file there and delete it.

    Raises:
        ConfigError: The storage cannot be opened or written (or the file cannot be deleted).
    """
    key = f".dubkit-write-check-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        storage = storage_factory(url)
        with storage.open_write(key) as handle:
            handle.write(b"dubkit worker write check\n")
        storage.delete(key)
    except (StorageError, OSError) as exc:
        raise ConfigError(
            f"cannot write to the storage {redact_url(url)}: {exc}",
            field="storage",
            hint="check the storage URL and this worker's permissions or credentials for it",
        ) from exc
