"""Where a backend runs: the ``device`` option, ``auto`` resolved to a CUDA GPU when the runtime sees one.

Every backend that can use a GPU takes ``device``: ``auto`` (the default), ``cpu``, ``cuda`` or
``cuda:N``. ``auto`` asks the backend's runtime whether it can use a CUDA device and takes the first one
if so, else the CPU; ``cpu`` and ``cuda`` are obeyed. ``cuda`` on a machine or an install where the runtime
has no CUDA device is a `ConfigError` raised before any work (`check_device`, called by
`dubkit.pipeline.Pipeline.validate`), naming what to install.

The runtimes are asked, each only when a backend of theirs resolves a device:

- ``ctranslate2`` (faster-whisper): ``ctranslate2.get_cuda_device_count() > 0``. The PyPI wheels are
  built with CUDA 12; cuBLAS and cuDNN 9 come with ``dubkit[gpu]``.
- ``torch`` (openai-whisper, NLLB, MMS, Demucs, pyannote): ``torch.cuda.device_count() > 0``, which
  needs a CUDA build of torch.
- ``onnxruntime`` (Silero, Kokoro, Piper): ``CUDAExecutionProvider`` is available (``onnxruntime-gpu``).

The compute type follows the device: `ctranslate2_compute_type` gives ``float16`` on CUDA and ``int8``
on the CPU for ``compute_type="auto"``; `torch_dtype_name` gives ``float16`` on CUDA and ``float32`` on
the CPU. A backend records what it resolved as a `DeviceUse` (logged at load, written to the dub
project's ``backends`` by the pipeline), with notes about anything that changed during the run (an
out-of-memory fallback to the CPU).

Tests (and embedders) simulate machines by handing a `CudaProbe` to `resolve_device`, or to a device
backend's constructor (``cuda_probe=``).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from dubkit.errors import ConfigError

__all__ = [
    "GPU_INSTALL",
    "CudaProbe",
    "CudaSupport",
    "DeviceBackendMixin",
    "DeviceUse",
    "Runtime",
    "check_device_option",
    "ctranslate2_compute_type",
    "free_memory",
    "is_out_of_memory",
    "onnxruntime_support",
    "preload_cuda_libraries",
    "probe_cuda",
    "resolve_device",
    "torch_dtype_name",
]

log = logging.getLogger(__name__)

Runtime = Literal["ctranslate2", "torch", "onnxruntime"]

#: What installs the GPU builds dubkit's runtimes need.
GPU_INSTALL = "pip install 'dubkit[gpu]'"
_TORCH_CUDA = "pip install torch --index-url https://download.pytorch.org/whl/cu126"
_ORT_GPU = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (or pip install 'dubkit[gpu]')"
_OOM_MARKERS = ("out of memory", "cublas_status_alloc_failed", "cudnn_status_alloc_failed")


@attrs.frozen
class CudaSupport:
    """What one runtime can use on this machine.

    Attributes:
        runtime: ``ctranslate2``, ``torch`` or ``onnxruntime``.
        devices: CUDA devices the runtime can use (0: none).
        reason: Why there are none (the runtime is missing, a CPU-only build, no GPU is visible).
        install: What to install to have them.
    """

    runtime: str
    devices: int
    reason: str = ""
    install: str = GPU_INSTALL


#: Answers "how many CUDA devices can this runtime use here?"; `probe_cuda` asks the real runtime.
CudaProbe = Callable[[Runtime], CudaSupport]


@attrs.frozen
class DeviceUse:
    """Where a loaded backend runs.

    Attributes:
        device: ``cpu`` or ``cuda`` / ``cuda:N``.
        compute_type: The precision it computes in (``int8``, ``float16``, ``float32``), when it chose one.
        requested: The ``device`` option it was given (``auto``, ``cpu``, ...).
        notes: What changed while it ran (an out-of-memory fallback), for the dub project's notes.
    """

    device: str
    compute_type: str = ""
    requested: str = ""
    notes: tuple[str, ...] = ()

    @property
    def is_cuda(self) -> bool:
        """Whether it runs on a CUDA device."""
        return self.device.startswith("cuda")

    def with_note(self, note: str, **changes: Any) -> DeviceUse:
        """This use with ``note`` added (and ``device``/``compute_type`` changed when given)."""
        return attrs.evolve(self, notes=(*self.notes, note), **changes)

    def describe(self) -> str:
        """``cuda (float16)``, ``cpu (int8)``."""
        return f"{self.device} ({self.compute_type})" if self.compute_type else self.device


def check_device_option(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """An attrs validator: ``value`` must be ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        ConfigError: it is not.
    """
    if _cuda_index(value) is None and value not in ("auto", "cpu"):
        raise ConfigError(
            f"{attribute.name} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}", field=attribute.name
        )


def _cuda_index(value: str) -> int | None:
    """0 for ``cuda``, N for ``cuda:N``, ``None`` for anything else."""
    if value == "cuda":
        return 0
    prefix, _, index = value.partition(":")
    if prefix == "cuda" and index.isdigit():
        return int(index)
    return None


def resolve_device(requested: str, runtime: Runtime, *, probe: CudaProbe | None = None) -> str:
    """The device a backend on ``runtime`` runs on when asked for ``requested``.

    Args:
        requested: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        runtime: The backend's runtime.
        probe: What the runtime can use (default: `probe_cuda`, which asks the runtime).

    Returns:
        ``cpu``, or ``requested`` itself for CUDA (``auto`` becomes ``cuda`` when the runtime has a
        CUDA device).

    Raises:
        ConfigError: a CUDA device asked for that the runtime cannot use; the hint names what to
            install. An unknown device name.
    """
    if requested == "cpu":
        return "cpu"
    index = _cuda_index(requested)
    if requested != "auto" and index is None:
        raise ConfigError(f"unknown device {requested!r} (auto, cpu, cuda or cuda:N)", field="device")
    support = (probe or probe_cuda)(runtime)
    if requested == "auto":
        return "cuda" if support.devices > 0 else "cpu"
    assert index is not None
    if support.devices == 0:
        raise ConfigError(
            f"device {requested!r} asked for, but {runtime} has no CUDA device: {support.reason}",
            field="device",
            hint=support.install,
        )
    if index >= support.devices:
        raise ConfigError(
            f"device {requested!r} asked for, but {runtime} sees {support.devices} CUDA device(s)",
            field="device",
            hint=f"use cuda:0 to cuda:{support.devices - 1}",
        )
    return requested


def ctranslate2_compute_type(requested: str, device: str, supported: frozenset[str] | None = None) -> str:
    """CTranslate2's compute type: ``auto`` is ``float16`` on CUDA and ``int8`` on the CPU.

    Args:
        requested: ``auto`` or a CTranslate2 compute type (kept as given).
        device: The resolved device.
        supported: The types the device supports (``ctranslate2.get_supported_compute_types``); on a
            GPU without float16 ``auto`` takes ``int8_float32``, then ``float32``.
    """
    if requested != "auto":
        return requested
    if not device.startswith("cuda"):
        return "int8"
    for choice in ("float16", "int8_float32", "float32"):
        if supported is None or choice in supported:
            return choice
    return "float32"


def torch_dtype_name(requested: str, device: str) -> str:
    """A torch dtype name: ``auto`` is ``float16`` on CUDA and ``float32`` on the CPU."""
    if requested != "auto":
        return requested
    return "float16" if device.startswith("cuda") else "float32"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a GPU running out of memory.

    CTranslate2 raises ``RuntimeError("CUDA failed with error out of memory")`` (or a cuBLAS/cuDNN
    ``..._ALLOC_FAILED`` status); torch raises ``torch.cuda.OutOfMemoryError`` (a ``RuntimeError``
    saying ``CUDA out of memory``); onnxruntime a ``RuntimeException`` mentioning it.
    """
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).casefold()
    return isinstance(exc, (RuntimeError, MemoryError)) and any(m in text for m in _OOM_MARKERS)


def free_memory(device: str) -> int | None:
    """Bytes free on ``device`` now: the GPU's free memory, or the system's available memory for ``cpu``.

    The GPU is asked through ``nvidia-smi`` (no import), then torch when it is a CUDA build; ``None``
    when neither answers.
    """
    index = _cuda_index(device)
    if index is None:
        return _available_system_memory()
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits", f"--id={index}"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
            return int(float(out.strip().splitlines()[0])) * 2**20
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    try:
        import torch  # noqa: TID251

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info(index)[0])
    except (ImportError, RuntimeError):
        pass
    return None


def _available_system_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@functools.cache
def probe_cuda(runtime: Runtime) -> CudaSupport:
    """Ask ``runtime`` how many CUDA devices it can use (imported here, lazily; the answer is cached)."""
    if runtime == "ctranslate2":
        return _probe_ctranslate2()
    if runtime == "torch":
        return _probe_torch()
    return _probe_onnxruntime()


def _probe_ctranslate2() -> CudaSupport:
    try:
        import ctranslate2
    except ImportError as exc:
        reason = f"ctranslate2 is not installed ({exc})"
        return CudaSupport("ctranslate2", 0, reason, "pip install 'dubkit[faster-whisper,gpu]'")
    try:
        count = int(ctranslate2.get_cuda_device_count())
    except Exception as exc:  # a wheel built without CUDA, or a broken driver
        return CudaSupport("ctranslate2", 0, f"ctranslate2 cannot use CUDA ({exc})")
    reason = (
        "" if count else "no CUDA GPU is visible to it (an NVIDIA driver, and CUDA 12 cuBLAS and cuDNN 9)"
    )
    return CudaSupport("ctranslate2", count, reason)


def _probe_torch() -> CudaSupport:
    try:
        import torch  # noqa: TID251
    except ImportError as exc:
        return CudaSupport("torch", 0, f"torch is not installed ({exc})", _TORCH_CUDA)
    if torch.version.cuda is None:
        return CudaSupport("torch", 0, f"torch {torch.__version__} is a CPU-only build", _TORCH_CUDA)
    count = int(torch.cuda.device_count())
    reason = "" if count else f"torch (CUDA {torch.version.cuda}) sees no GPU (is the NVIDIA driver loaded?)"
    return CudaSupport("torch", count, reason, _TORCH_CUDA)


def _probe_onnxruntime() -> CudaSupport:
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError as exc:
        return CudaSupport("onnxruntime", 0, f"onnxruntime is not installed ({exc})", _ORT_GPU)
    return onnxruntime_support(onnxruntime)


def onnxruntime_support(ort: Any) -> CudaSupport:
    """What the imported ``onnxruntime`` module ``ort`` can use: one CUDA device when it has the provider."""
    providers = list(ort.get_available_providers())
    if "CUDAExecutionProvider" not in providers:
        reason = f"this onnxruntime has no CUDA provider (it has {', '.join(providers)})"
        return CudaSupport("onnxruntime", 0, reason, _ORT_GPU)
    # onnxruntime does not count devices, and lists the provider even where no GPU is present (a session
    # then runs on the CPU: `dubkit.backends.onnx_session` records the provider the session really got).
    return CudaSupport("onnxruntime", 1, "", _ORT_GPU)


#: The CUDA libraries CTranslate2 opens by name, and the pip wheels (``dubkit[gpu]``) that hold them.
_CUDA_WHEEL_LIBRARIES = (
    ("nvidia.cublas", ("libcublasLt.so.12", "libcublas.so.12")),
    ("nvidia.cudnn", ("libcudnn.so.9", "libcudnn_*.so.9")),
)


@functools.cache
def preload_cuda_libraries() -> tuple[str, ...]:
    """Load CUDA 12 cuBLAS and cuDNN 9 from the ``nvidia-*`` wheels, so that CTranslate2 finds them.

    CTranslate2 opens ``libcublas.so.12`` (and cuDNN) by name when it first computes on a GPU; the pip
    wheels keep them in ``site-packages/nvidia/*/lib``, where the dynamic loader does not look. Loaded
    here first (globally), the loader's lookup by name finds them. Linux only; nothing happens when the
    wheels are not installed (a system CUDA on the library path serves then). Returns the files loaded.
    """
    if not sys.platform.startswith("linux"):
        return ()
    import ctypes

    loaded: list[str] = []
    for package, patterns in _CUDA_WHEEL_LIBRARIES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            for pattern in patterns:
                for path in sorted(Path(folder, "lib").glob(pattern)):
                    try:
                        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                    except (
                        OSError
                    ) as exc:  # a part needing another not yet loaded: CTranslate2 may not use it
                        log.debug("could not preload %s: %s", path, exc)
                        continue
                    loaded.append(str(path))
    return tuple(loaded)


class DeviceBackendMixin:
    """For a backend with a ``device`` option: checked before any work, resolved at load, reported after.

    Put it before the ``Base*`` class (``class X(DeviceBackendMixin, BaseTranscriber[...])``) and set
    ``runtime``. ``_load`` calls `_resolve_device` (and `_set_device_use` once it knows the compute
    type); the pipeline calls `check_device` before a run and reads `device_use` after a stage.

    Args:
        options: The backend's options (with a ``device`` field).
        cuda_probe: What the runtime can use (default: `probe_cuda`); tests pass a fake machine.
    """

    runtime: ClassVar[Runtime]

    def __init__(self, options: Any = None, *, cuda_probe: CudaProbe | None = None) -> None:
        super().__init__(options)  # type: ignore[call-arg]  # the Base* backend's constructor
        self._cuda_probe = cuda_probe
        self._device_use: DeviceUse | None = None

    def check_device(self) -> None:
        """Raise a `ConfigError` when the ``device`` option names a CUDA device the runtime cannot use.

        ``auto`` and ``cpu`` are not checked (nothing is imported for them).
        """
        requested = self._device_option()
        if requested not in ("auto", "cpu"):
            resolve_device(requested, self.runtime, probe=self._cuda_probe)

    def device_use(self) -> DeviceUse | None:
        """Where the backend ran since its last load (kept after ``close()``); ``None`` if never loaded."""
        return self._device_use

    def _resolve_device(self) -> str:
        return resolve_device(self._device_option(), self.runtime, probe=self._cuda_probe)

    def _device_option(self) -> str:
        options: Any = getattr(self, "options", None)
        return str(getattr(options, "device", "cpu"))

    def _set_device_use(self, device: str, compute_type: str = "") -> DeviceUse:
        use = DeviceUse(device=device, compute_type=compute_type, requested=self._device_option())
        self._device_use = use
        log.info("%s runs on %s (device=%s)", type(self).__name__, use.describe(), use.requested)
        return use

    def _change_device_use(self, **changes: Any) -> None:
        """Change the recorded device or compute type (the backend moved)."""
        base = self._device_use or DeviceUse(device="cpu", requested=self._device_option())
        self._device_use = attrs.evolve(base, **changes)

    def _note_device(self, note: str, **changes: Any) -> None:
        """Record ``note`` (and a device change) in `device_use`, and log it as a warning."""
        base = self._device_use or DeviceUse(device="cpu", requested=self._device_option())
        self._device_use = base.with_note(note, **changes)
        log.warning("%s: %s", type(self).__name__, note)
