"""Device resolution: ``auto``, explicit devices, and a CUDA device that cannot be had (machines simulated by
handing a probe in; the real probes asked on this machine)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from dubkit.backends.devices import (
    CudaSupport,
    DeviceBackendMixin,
    Runtime,
    check_device_option,
    ctranslate2_compute_type,
    probe_cuda,
    resolve_device,
    torch_dtype_name,
)
from dubkit.backends.faster_whisper import FasterWhisperTranscriber
from dubkit.backends.kokoro import KokoroSynthesizer
from dubkit.backends.mms import MMSSynthesizer
from dubkit.backends.onnx_session import execution_providers
from dubkit.errors import ConfigError


def no_cuda(runtime: Runtime) -> CudaSupport:
    return CudaSupport(runtime, 0, f"{runtime} is a CPU-only build", install=f"install the GPU {runtime}")


def one_gpu(runtime: Runtime) -> CudaSupport:
    return CudaSupport(runtime, 1)


def never_asked(runtime: Runtime) -> CudaSupport:
    raise AssertionError(f"{runtime} was probed for an explicit cpu device")


@pytest.mark.parametrize("runtime", ["ctranslate2", "torch", "onnxruntime"])
def test_auto_takes_the_gpu_when_the_runtime_has_one(runtime: Runtime) -> None:
    assert resolve_device("auto", runtime, probe=one_gpu) == "cuda"
    assert resolve_device("auto", runtime, probe=no_cuda) == "cpu"


def test_an_explicit_device_wins() -> None:
    assert resolve_device("cpu", "torch", probe=never_asked) == "cpu"
    assert resolve_device("cuda", "torch", probe=one_gpu) == "cuda"
    assert resolve_device("cuda:1", "torch", probe=lambda r: CudaSupport(r, 2)) == "cuda:1"


def test_cuda_without_a_gpu_is_a_config_error_naming_what_to_install() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_device("cuda", "ctranslate2", probe=no_cuda)
    assert caught.value.field == "device"
    assert "CPU-only build" in str(caught.value)
    assert caught.value.hint == "install the GPU ctranslate2"
    with pytest.raises(ConfigError, match="sees 1 CUDA device"):
        resolve_device("cuda:1", "torch", probe=one_gpu)
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu", "torch", probe=one_gpu)


def test_the_option_is_checked_when_options_are_made() -> None:
    @attrs.frozen
    class Options:
        device: str = attrs.field(default="auto", validator=check_device_option)

    for good in ("auto", "cpu", "cuda", "cuda:3"):
        Options(device=good)
    for bad in ("gpu", "cuda:", "cuda:x", "CUDA"):
        with pytest.raises(ConfigError):
            Options(device=bad)
    with pytest.raises(ConfigError):
        FasterWhisperTranscriber.Options(device="gpu")


def test_compute_types_follow_the_device() -> None:
    assert ctranslate2_compute_type("auto", "cuda") == "float16"
    assert (
        ctranslate2_compute_type("auto", "cuda:1", frozenset({"float32", "int8_float32"})) == "int8_float32"
    )
    assert ctranslate2_compute_type("auto", "cpu") == "int8"
    assert ctranslate2_compute_type("float32", "cuda") == "float32"  # explicit wins
    assert torch_dtype_name("auto", "cuda") == "float16"
    assert torch_dtype_name("auto", "cpu") == "float32"
    assert torch_dtype_name("bfloat16", "cpu") == "bfloat16"


@pytest.mark.parametrize("runtime", ["ctranslate2", "torch", "onnxruntime"])
def test_the_real_probes_answer_with_a_reason_and_an_install_hint(runtime: Runtime) -> None:
    support = probe_cuda(runtime)
    assert support.runtime == runtime and support.devices >= 0
    assert bool(support.reason) == (support.devices == 0)  # no device: says why
    assert support.install  # and what to install


def test_onnxruntime_providers_follow_the_device() -> None:
    ort = pytest.importorskip("onnxruntime")
    assert execution_providers(ort, "cpu") == ["CPUExecutionProvider"]
    assert execution_providers(ort, "auto", probe=one_gpu) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert execution_providers(ort, "cuda:1", probe=lambda r: CudaSupport(r, 2))[0] == (
        "CUDAExecutionProvider",
        {"device_id": 1},
    )
    assert execution_providers(ort, "auto", probe=no_cuda) == ["CPUExecutionProvider"]
    with pytest.raises(ConfigError) as caught:
        execution_providers(ort, "cuda", probe=no_cuda)
    assert caught.value.hint == "install the GPU onnxruntime"


def test_a_backend_checks_an_explicit_cuda_before_loading_and_leaves_auto_alone() -> None:
    cuda = FasterWhisperTranscriber(FasterWhisperTranscriber.Options(device="cuda"), cuda_probe=no_cuda)
    with pytest.raises(ConfigError) as caught:
        cuda.check_device()
    assert caught.value.hint == "install the GPU ctranslate2"
    assert not cuda.loaded and cuda.device_use() is None
    FasterWhisperTranscriber(cuda_probe=never_asked).check_device()  # auto: nothing probed
    FasterWhisperTranscriber(
        FasterWhisperTranscriber.Options(device="cpu"), cuda_probe=never_asked
    ).check_device()
    FasterWhisperTranscriber(
        FasterWhisperTranscriber.Options(device="cuda"), cuda_probe=one_gpu
    ).check_device()
    mms = MMSSynthesizer(MMSSynthesizer.Options(device="cuda:0"), cuda_probe=no_cuda)
    with pytest.raises(ConfigError, match="torch has no CUDA device"):
        mms.check_device()
    kokoro = KokoroSynthesizer(KokoroSynthesizer.Options(device="cuda"), cuda_probe=no_cuda)
    with pytest.raises(ConfigError, match="onnxruntime has no CUDA device"):
        kokoro.check_device()


def test_every_gpu_capable_backend_defaults_to_auto() -> None:
    from dubkit.backends.demucs_separator import DemucsSeparator
    from dubkit.backends.nllb import NLLBTranslator
    from dubkit.backends.openai_whisper import OpenAIWhisperTranscriber
    from dubkit.backends.piper import PiperSynthesizer
    from dubkit.backends.pyannote_diarizer import PyannoteDiarizer
    from dubkit.backends.silero import SileroVAD

    classes = [
        FasterWhisperTranscriber,
        OpenAIWhisperTranscriber,
        NLLBTranslator,
        MMSSynthesizer,
        DemucsSeparator,
        PyannoteDiarizer,
        SileroVAD,
        KokoroSynthesizer,
        PiperSynthesizer,
    ]
    for cls in classes:
        assert issubclass(cls, DeviceBackendMixin), cls
        assert cls.Options().device == "auto", cls
    assert FasterWhisperTranscriber.Options().compute_type == "auto"


@pytest.mark.models
def test_auto_on_this_machine_is_recorded_after_load(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    from dubkit.backends.whisper_model import assemble_packaged_model

    model_dir = assemble_packaged_model(tmp_path / "whisper")
    with FasterWhisperTranscriber(FasterWhisperTranscriber.Options(model_dir=model_dir)) as backend:
        use = backend.device_use()
    expected = "cuda" if probe_cuda("ctranslate2").devices else "cpu"
    assert use is not None and use.device == expected and use.requested == "auto"
    assert use.compute_type == ("float16" if expected == "cuda" else "int8")
    assert backend.device_use() == use  # kept after close, for the dub project
