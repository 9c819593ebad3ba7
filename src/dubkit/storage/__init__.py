"""Storage: where job inputs and outputs live (local disk, S3, memory), behind one small protocol."""

from __future__ import annotations

from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.options import S3Options
from dubkit.storage.paths import job_key, job_prefix, validate_key, validate_segment
from dubkit.storage.protocol import Storage

__all__ = [
    "FsspecStorage",
    "S3Options",
    "Storage",
    "job_key",
    "job_prefix",
    "validate_key",
    "validate_segment",
]
