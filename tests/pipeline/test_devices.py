"""The pipeline and devices: a CUDA device that cannot be had stops a run before any work; where each
backend ran, and an out-of-memory fallback to the CPU, end up in the dub project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from dubkit.backends.base import BaseTranscriber
from dubkit.backends.batching import MemoryBackoff
from dubkit.backends.binding import BackendBinding
from dubkit.backends.devices import CudaSupport, DeviceBackendMixin, Runtime, check_device_option
from dubkit.errors import ConfigError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline import Artifacts, BaseStage, Pipeline, RunRequest, StageContext
from dubkit.pipeline.keys import SOURCE, TRANSCRIPT


def one_gpu(runtime: Runtime) -> CudaSupport:
    return CudaSupport(runtime, 1)


def no_cuda(runtime: Runtime) -> CudaSupport:
    return CudaSupport(runtime, 0, "no GPU here", install="pip install 'dubkit[gpu]'")


class GpuTranscriber(DeviceBackendMixin, BaseTranscriber["GpuTranscriber.Options"]):
    """Transcribes each region as ``word<i>``; its decode call runs out of GPU memory above ``fits`` regions.

    On "cuda" (resolved through the injected probe) every batch above ``fits`` raises CTranslate2's
    out-of-memory error; after moving to the CPU every batch decodes.
    """

    runtime = "ctranslate2"

    @attrs.frozen
    class Options:
        device: str = attrs.field(default="auto", validator=check_device_option)
        fits: int = 0

    def _load(self) -> None:
        self.device = self._resolve_device()
        self._set_device_use(self.device, "float16" if self.device == "cuda" else "int8")
        self.backoff = MemoryBackoff(
            8, on_gpu=lambda: self.device == "cuda", to_cpu=self._to_cpu, note=self._note_device
        )
        self.tried: list[tuple[str, int]] = []

    def _to_cpu(self) -> int:
        self.device = "cpu"
        self._change_device_use(device="cpu", compute_type="int8")
        return 4

    def _decode(self, batch: Sequence[SpeechRegion]) -> list[TranscriptSegment]:
        self.tried.append((self.device, len(batch)))
        if self.device == "cuda" and len(batch) > self.options.fits:
            raise RuntimeError("CUDA failed with error out of memory")
        return [TranscriptSegment(id="", start=r.start, end=r.end, text=f"word{r.start:g}") for r in batch]

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        segments = [seg for _, out in self.backoff.run(list(regions), self._decode) for seg in out]
        return Transcript(language="en", segments=tuple(segments))


class FakeTranscribeStage(BaseStage[Transcript]):
    name = "transcribe"
    inputs = (SOURCE,)
    output = TRANSCRIPT

    def __init__(self, binding: BackendBinding[GpuTranscriber]) -> None:
        self.transcriber = binding

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        return {"backend": self.transcriber.fingerprint()}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Transcript:
        regions = [SpeechRegion(float(i), i + 0.5) for i in range(10)]
        return self.transcriber.get().transcribe(
            AudioFile(inputs[SOURCE].path, 16000, 1, 10.0), regions, "en"
        )


def pipeline(backend: GpuTranscriber) -> Pipeline:
    return Pipeline([FakeTranscribeStage(BackendBinding("transcriber", "gpu-test", backend))])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "input.bin"
    path.write_bytes(b"not media: the fake stage never reads it")
    return path


def test_cuda_without_a_gpu_stops_the_run_before_any_work(tmp_path: Path, source: Path) -> None:
    backend = GpuTranscriber(GpuTranscriber.Options(device="cuda"), cuda_probe=no_cuda)
    with pytest.raises(ConfigError) as caught:
        pipeline(backend).run(source, to="es", run_dir=tmp_path / "run")
    assert caught.value.hint == "pip install 'dubkit[gpu]'"
    assert not backend.loaded and not (tmp_path / "run").exists()


def test_where_the_backend_ran_is_in_the_dub_project(tmp_path: Path, source: Path) -> None:
    backend = GpuTranscriber(GpuTranscriber.Options(fits=8), cuda_probe=one_gpu)  # auto, everything fits
    result = pipeline(backend).run(source, to="es", run_dir=tmp_path / "run")
    choice = result.project.backends["transcriber"]
    assert (choice.device, choice.compute_type, choice.options["device"]) == ("cuda", "float16", "auto")
    assert result.project.quality.notes == []


def test_a_stage_from_the_cache_says_where_the_run_that_made_it_ran(tmp_path: Path, source: Path) -> None:
    first = GpuTranscriber(GpuTranscriber.Options(fits=0), cuda_probe=one_gpu)  # falls back to the CPU
    made = pipeline(first).run(source, to="es", run_dir=tmp_path / "run")
    again = GpuTranscriber(GpuTranscriber.Options(fits=0), cuda_probe=one_gpu)
    cached = pipeline(again).run(source, to="fr", run_dir=tmp_path / "run")  # another target, same stage
    assert cached.reports[0].cached and not getattr(again, "tried", [])  # decoded nothing this time
    choice = cached.project.backends["transcriber"]
    assert (choice.device, choice.compute_type) == ("cpu", "int8")
    assert cached.project.quality.notes == made.project.quality.notes != []


def test_a_missing_or_broken_record_reads_as_no_device(tmp_path: Path, source: Path) -> None:
    made = pipeline(GpuTranscriber(GpuTranscriber.Options(fits=8), cuda_probe=one_gpu)).run(
        source, to="es", run_dir=tmp_path / "run"
    )
    record = next((tmp_path / "run" / "stages").glob("transcribe-*/record.json"))
    for broken in ("{not json", '{"devices": [{"kind": 1}]}', "[]"):
        record.write_text(broken)
        again = pipeline(GpuTranscriber(GpuTranscriber.Options(fits=8), cuda_probe=one_gpu))
        cached = again.run(source, to="es", run_dir=tmp_path / "run")
        assert cached.project.backends["transcriber"].device is None
        assert cached.artifacts[TRANSCRIPT] == made.artifacts[TRANSCRIPT]
    record.unlink()
    again = pipeline(GpuTranscriber(GpuTranscriber.Options(fits=8), cuda_probe=one_gpu))
    assert again.run(source, to="es", run_dir=tmp_path / "run").project.backends["transcriber"].device is None


def test_out_of_gpu_memory_halves_the_batch_then_moves_to_the_cpu_with_a_note(
    tmp_path: Path, source: Path
) -> None:
    backend = GpuTranscriber(GpuTranscriber.Options(fits=0), cuda_probe=one_gpu)
    result = pipeline(backend).run(source, to="es", run_dir=tmp_path / "run")
    assert backend.tried == [
        ("cuda", 8),
        ("cuda", 4),
        ("cuda", 2),
        ("cuda", 1),
        ("cpu", 4),
        ("cpu", 4),
        ("cpu", 2),
    ]
    assert [s.text for s in result.artifacts[TRANSCRIPT].segments] == [f"word{i}" for i in range(10)]
    choice = result.project.backends["transcriber"]
    assert (choice.device, choice.compute_type) == ("cpu", "int8")
    notes = result.project.quality.notes
    assert notes == [
        "transcribe (transcriber gpu-test): ran out of GPU memory with a batch of 8: batch halved to 4",
        "transcribe (transcriber gpu-test): ran out of GPU memory with a batch of 4: batch halved to 2",
        "transcribe (transcriber gpu-test): ran out of GPU memory with a batch of 2: batch halved to 1",
        "transcribe (transcriber gpu-test): ran out of GPU memory with a batch of 1: moved to the CPU for "
        "the rest of the run (batch 4)",
    ]
