"""onnxruntime sessions for the ONNX models (Kokoro, Piper, Silero): the device, and the fastest CPU settings.

The ``device`` option is resolved by `dubkit.backends.devices` (``auto``: CUDA when this onnxruntime has
its CUDA provider, i.e. ``onnxruntime-gpu``); `session_device` says where a session really runs (an
onnxruntime-gpu on a machine without a GPU falls back to the CPU provider).

Settings, measured on Kokoro-82M int8 (2-core x86_64, Spanish lines of 3-6 s):

| intra-op threads | lines at once | CPU-s per s of speech | wall-s per s of speech |
|---|---|---|---|
| 1 | 1 | 0.50 | 0.51 |
| 2 | 1 | 0.60 | 0.31 |
| 1 | 2 | 0.50-0.53 | about 0.27 |

One thread per call with calls run side by side (a line per core) gives the most speech per
processor second: the synthesize stage voices `concurrent_calls` lines at once. Full graph
optimisation costs the same as basic for this int8 model and is kept; turning off the memory arena
multiplied peak memory several times, so it stays on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dubkit.backends.devices import CudaProbe, onnxruntime_support, resolve_device
from dubkit.errors import BackendUnavailableError

__all__ = ["cpu_workers", "execution_providers", "open_session", "session_device"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_MAX_WORKERS = 4
Provider = str | tuple[str, dict[str, Any]]


def execution_providers(ort: Any, device: str, *, probe: CudaProbe | None = None) -> list[Provider]:
    """The onnxruntime providers for ``device``: ``auto`` takes CUDA when this onnxruntime has it.

    Args:
        ort: The imported ``onnxruntime`` module.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        probe: What onnxruntime can use (default: asks ``ort``).

    Raises:
        ConfigError: ``cuda`` asked for and this onnxruntime has no CUDA provider (install
            onnxruntime-gpu), or an unknown device.
    """
    resolved = resolve_device(device, "onnxruntime", probe=probe or (lambda _: onnxruntime_support(ort)))
    if resolved == "cpu":
        return [_CPU]
    index = resolved.partition(":")[2]
    return [(_CUDA, {"device_id": int(index)}) if index else _CUDA, _CPU]


def session_device(session: Any) -> str:
    """``cuda`` when ``session`` runs on onnxruntime's CUDA provider, else ``cpu``."""
    providers: Sequence[str] = session.get_providers()
    return "cuda" if providers and providers[0] == _CUDA else "cpu"


def cpu_workers(threads: int) -> int:
    """How many calls to run at once on this machine's CPUs with ``threads`` intra-op threads each."""
    return max(1, min(_MAX_WORKERS, (os.cpu_count() or 1) // max(1, threads)))


def open_session(
    ort: Any,
    model: Path,
    *,
    device: str,
    threads: int,
    kind: str,
    name: str,
    install: str,
    probe: CudaProbe | None = None,
) -> Any:
    """An inference session for ``model`` on ``device``.

    Raises:
        ConfigError: see `execution_providers`.
        BackendUnavailableError: the file is missing or is not a model onnxruntime can load (corrupt or
            truncated); the error names ``install``.
    """
    providers = execution_providers(ort, device, probe=probe)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: onnxruntime's warnings are not the user's business
    if not model.is_file():
        raise BackendUnavailableError(kind, name, f"the model file {model} does not exist", install=install)
    try:
        return ort.InferenceSession(str(model), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind11 types (Fail, InvalidProtobuf, ...)
        raise BackendUnavailableError(
            kind, name, f"cannot load the model {model}: {type(exc).__name__}: {exc}", install=install
        ) from exc
