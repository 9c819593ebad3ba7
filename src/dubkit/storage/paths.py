"""Storage keys: relative, ``/``-separated, validated segment by segment, so no key escapes its root."""

from __future__ import annotations

import unicodedata

from dubkit.errors import StorageError

__all__ = ["job_key", "job_prefix", "validate_key", "validate_segment"]

_MAX_SEGMENT = 255


def validate_segment(segment: str, *, what: str = "path segment") -> str:
    """Check one segment of a key: not empty, not ``.``/``..``, no path separator, no control character.

    Returns:
        ``segment`` unchanged.

    Raises:
        StorageError: The segment is unsafe.
    """
    problem = None
    if not segment:
        problem = "is empty"
    elif segment in (".", ".."):
        problem = "is a relative path component"
    elif "/" in segment or "\\" in segment:
        problem = "contains a path separator"
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in segment):
        problem = "contains control characters"
    elif len(segment) > _MAX_SEGMENT:
        problem = f"is longer than {_MAX_SEGMENT} characters"
    if problem is not None:
        raise StorageError(f"unsafe {what} {segment!r}: it {problem}")
    return segment


def validate_key(key: str) -> str:
    """Check a relative key such as ``alice/0f3c/input`` (each segment through `validate_segment`).

    Returns:
        ``key`` unchanged.

    Raises:
        StorageError: The key is empty, absolute, or has an unsafe segment.
    """
    if key.startswith("/"):
        raise StorageError(f"storage keys are relative, got {key!r}")
    for segment in key.split("/"):
        validate_segment(segment)
    return key


def job_prefix(owner: str, job_id: str) -> str:
    """The folder of a job's files: ``<owner>/<job_id>/``.

    Raises:
        StorageError: ``owner`` or ``job_id`` is empty, ``.``/``..``, or has a separator or control character.
    """
    return f"{validate_segment(owner, what='owner')}/{validate_segment(job_id, what='job id')}/"


def job_key(owner: str, job_id: str, name: str) -> str:
    """The key of one file of a job, such as ``<owner>/<job_id>/input``.

    Raises:
        StorageError: Any of the three parts is unsafe.
    """
    return job_prefix(owner, job_id) + validate_segment(name, what="file name")
