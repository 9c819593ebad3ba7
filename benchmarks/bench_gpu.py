"""The ten-minute lecture dubbed on whatever device is present: per-stage seconds, real-time factors, peak
GPU memory and the device's name, to ``benchmarks/results/gpu-<device>-<model size>.json``
(``gpu-cuda-large-v3.json`` on a GPU, ``gpu-cpu-base.json`` without one).

The lecture is ``bench_dub.py``'s (generated: two espeak-ng voices, a noise bed). Every backend runs with
``device="auto"``: a CUDA GPU where its runtime sees one. The dub runs in this process (models loaded
inside the timed run, freed after each stage as ``dubkit.dub()`` does), with espeak-ng voicing the lines.

``--model-size`` picks the Whisper:

- ``base``: the packaged Whisper base (real weights, offline).
- ``large-v3``: real weights when ``--model`` names a CTranslate2 folder of them or the Hugging Face cache
  holds ``Systran/faster-whisper-large-v3``; otherwise a CTranslate2 Whisper of large-v3's dimensions
  with random weights (``random_whisper.py``: 32+32 layers of 1280, 20 heads, 128 mel bins, 51,866
  tokens; float16). Its text is noise, so the dub is then measured in two parts, said so in the output:
  the whole dub with the base model (real text for the stages after transcription), and the
  transcription stage again with the random large-v3 on the same speech, its decoder capped at the
  tokens the lecture's script has per 29.5 s window of speech (a random decoder seldom stops by itself;
  capped, it does the work a real one does on this speech). The whole dub with large-v3 is the first
  run's stages other than transcription plus the second run's transcription.
- ``random-tiny``: the random build at tiny's width with large-v3's mel bins and vocabulary, to check
  that path where compute is scarce.

Run on a GPU machine (dubkit installed with the offline and gpu extras, ffmpeg and espeak-ng present;
check first with ``python -c "import ctranslate2; print(ctranslate2.get_cuda_device_count())"``)::

    python benchmarks/bench_gpu.py --model-size large-v3

Targets there (one H100): the whole dub at <= 0.02x real time, the stages other than transcription
<= 25% of its time. Without a GPU (2 cores, here) it proves the script::

    python benchmarks/bench_gpu.py --model-size base --minutes 1
    python benchmarks/bench_gpu.py --model-size random-tiny --minutes 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from random_whisper import SIZES, build_random_whisper

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BackendKind
from dubkit.backends.devices import probe_cuda, resolve_device
from dubkit.backends.whisper_model import assemble_packaged_model
from dubkit.pipeline import Pipeline
from dubkit.pipeline.result import DubResult
from dubkit.testing.sample_video import SampleVideo, lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results"
WINDOW_SECONDS = 29.5
TARGETS = {"real_time_factor": 0.02, "other_stages_over_transcription": 0.25}


class GpuMemory:
    """The GPU's used memory, sampled by ``nvidia-smi`` every 0.2 s while a block runs; the peak over idle."""

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.smi = shutil.which("nvidia-smi")
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _used_mib(self) -> int | None:
        if self.smi is None:
            return None
        try:
            out = subprocess.run(
                [self.smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", f"--id={self.index}"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout
            return int(float(out.split()[0]))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    def __enter__(self) -> GpuMemory:
        self.idle = self._used_mib()
        if self.idle is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            used = self._used_mib()
            if used is not None:
                self.samples.append(used)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak_over_idle_mib(self) -> int | None:
        if self.idle is None or not self.samples:
            return None
        return max(self.samples) - self.idle


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        smi = shutil.which("nvidia-smi")
        if smi is not None:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader", "--id=0"],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip().splitlines()[0]
        return "CUDA device"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"CPU: {line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def tokens_per_window(sample: SampleVideo, base_model: Path) -> int:
    """Tokens the lecture's script has per 29.5 s window of speech (the cap for a random decoder)."""
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(base_model / "tokenizer.json"))
    tokens = len(tokenizer.encode(" " + sample.text).ids)
    speech = sum(line.end - line.start for line in sample.lines)
    return math.ceil(tokens / speech * WINDOW_SECONDS) + 3  # + the prompt's end and the end of text


def large_v3_weights(explicit: str | None) -> str | None:
    """A folder of real large-v3 weights: ``--model``, or the Hugging Face cache; ``None`` when neither."""
    if explicit:
        return explicit
    try:
        from faster_whisper.utils import download_model

        return str(download_model("large-v3", local_files_only=True))
    except Exception:  # not cached (no hub here)
        return None


def torch_peak_mib() -> int | None:
    try:
        import torch  # noqa: TID251  # a benchmark, not dubkit

        if torch.cuda.is_available():
            return round(torch.cuda.max_memory_allocated() / 2**20)
    except ImportError:
        pass
    return None


def config(args: argparse.Namespace, transcriber: dict[str, Any]) -> PipelineConfig:
    return PipelineConfig(
        synthesizer="espeak-ng",
        low_memory=True,
        transcribe_chunk_seconds=args.chunk_seconds,
        backend_options={BackendKind.TRANSCRIBER: transcriber},
    )


def run(pipeline: Pipeline, video: Path, run_dir: Path) -> tuple[DubResult, float, int | None]:
    with GpuMemory() as memory:
        started = time.perf_counter()
        result = pipeline.run(video, to="es", run_dir=run_dir)
        wall = time.perf_counter() - started
    return result, wall, memory.peak_over_idle_mib()


def summary(result: DubResult, wall: float, peak: int | None, media: float) -> dict[str, Any]:
    stages = {r.name: round(r.seconds, 3) for r in result.reports}
    backends = {
        kind: {"name": b.name, "device": b.device, "compute_type": b.compute_type}
        for kind, b in result.project.backends.items()
    }
    return {
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(wall / media, 4),
        "stage_seconds": stages,
        "stage_real_time_factor": {k: round(v / media, 4) for k, v in stages.items()},
        "peak_gpu_memory_mib": peak,
        "backends": backends,
        "segments": len(result.project.segments),
        "notes": result.project.quality.notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model-size", choices=["base", *SIZES], default="base")
    parser.add_argument("--model", help="a CTranslate2 folder of real weights for --model-size")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None, help="windows per batch (default: chosen)")
    parser.add_argument("--chunk-seconds", type=float, default=120.0, help="transcribe_chunk_seconds")
    parser.add_argument(
        "--work-dir", type=Path, help="keep the lecture and models here (default: a temp dir)"
    )
    args = parser.parse_args()

    device = resolve_device("auto", "ctranslate2")
    results: dict[str, Any] = {
        "device": device,
        "device_name": device_name(device),
        "cuda_devices": {rt: probe_cuda(rt).devices for rt in ("ctranslate2", "torch", "onnxruntime")},
        "model_size": args.model_size,
        "beam_size": args.beam_size,
        "transcribe_chunk_seconds": args.chunk_seconds,
    }
    base_model = assemble_packaged_model()
    with tempfile.TemporaryDirectory(prefix="dubkit-gpu-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        video = work / f"lecture-{args.minutes:g}min.mp4"
        sample = make_sample_video(video, script=lecture_script(args.minutes))
        media = sample.duration
        results["media_seconds"] = round(media, 1)
        common = {"beam_size": args.beam_size, "batch_size": args.batch_size}
        real = args.model if args.model_size == "base" else None
        if args.model_size == "large-v3":
            real = large_v3_weights(args.model)
        load_before = round(os.getloadavg()[0], 2)
        if args.model_size == "base" or real is not None:
            model = real or "base"
            with build_pipeline(config(args, {**common, "model": model})) as pipeline:
                result, wall, peak = run(pipeline, video, work / "run")
            whole = summary(result, wall, peak, media)
            results["weights"] = "real" if real else "packaged base"
            results["runs"] = {"dub": whole}
            transcribe = whole["stage_seconds"]["transcribe"]
            total = wall
        else:
            cap = tokens_per_window(sample, base_model)
            started = time.perf_counter()
            random_model = build_random_whisper(
                args.model_size, work / f"{args.model_size}-random-ct2", base_model
            )
            build_seconds = time.perf_counter() - started
            with build_pipeline(config(args, {**common, "model": "base"})) as pipeline:
                result, wall, peak = run(pipeline, video, work / "run")
            base_run = summary(result, wall, peak, media)
            options = {**common, "model": str(random_model), "max_new_tokens": cap}
            with build_pipeline(config(args, options)) as full, Pipeline(full.stages[:6]) as front:
                result, wall, peak = run(
                    front, video, work / "run"
                )  # the stages before it come from the cache
            random_run = summary(result, wall, peak, media)
            transcribe = random_run["stage_seconds"]["transcribe"]
            total = base_run["wall_seconds"] - base_run["stage_seconds"]["transcribe"] + transcribe
            unfetched = ": real weights could not be fetched" if args.model_size == "large-v3" else ""
            results["weights"] = (
                f"random ({args.model_size} dimensions{unfetched}); the text is "
                "noise, so the stages after transcription were timed on the base model's transcript (run "
                "'base_dub') and transcription on the same speech with the random model (run "
                f"'random_transcription', decoder capped at {cap} tokens a window: the tokens the lecture's "
                "script has per 29.5 s of speech, so it does the work a real model does). The vocabulary is "
                "base's tokenizer padded to the size's token count (large-v3 has one more language token and "
                "its special tokens one id later); compute is the same."
            )
            results["random_model_build_seconds"] = round(build_seconds, 1)
            results["runs"] = {"base_dub": base_run, "random_transcription": random_run}
        others = total - transcribe
        results["whole_dub"] = {
            "wall_seconds": round(total, 2),
            "real_time_factor": round(total / media, 4),
            "transcribe_seconds": round(transcribe, 2),
            "other_stages_seconds": round(others, 2),
            "other_stages_over_transcription": round(others / transcribe, 3) if transcribe else None,
        }
        results["torch_peak_gpu_memory_mib"] = torch_peak_mib()
        results["load_average"] = [load_before, round(os.getloadavg()[0], 2)]
        if device.startswith("cuda"):
            results["targets"] = TARGETS
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"gpu-{device.partition(':')[0]}-{args.model_size}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
