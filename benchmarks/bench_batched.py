"""Batched against sequential Whisper decoding on the CPU: the transcription stage, then the whole dub.

1. The transcription stage's work on the ten-minute lecture (``bench_dub.py``'s): its speaker turns
   (from the default VAD and diarizer) cut into the stage's 120 s chunks, each chunk transcribed by one
   transcriber per mode, the modes taking turns chunk by chunk (so a busy machine slows them alike):
   sequential decoding (``batch_size=0``) and batched decoding with 1, 2 and 4 windows a batch, all with
   the same model (the packaged Whisper base, int8) and beam (5). For each: wall and processor seconds,
   the word error rate against the lecture's script, and the ratios to sequential.
2. The whole dub of the lecture, as ``dubkit dub --synthesizer espeak-ng`` in a fresh process, batched
   (the default) then sequential (``--option transcriber.batch_size=0``): wall and processor seconds,
   real-time factors, per-stage seconds and the quality figures of ``bench_quality.py`` (without
   review). espeak-ng is named because the figures it is compared with (``dub.json``) were taken with
   it; the ``auto`` synthesizer picks Kokoro where it is installed, which voices about 1 s of speech per
   processor second on this machine and would dominate the dub.

The machine's load average is recorded before and after each part: figures taken on a busy machine are
slower (processor seconds are steadier than wall seconds there). Results go to
``benchmarks/results/batched.json``.

Run: .venv/bin/python benchmarks/bench_batched.py [--minutes 10] [--skip-dub]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_quality import measure

from dubkit import DubProject, PipelineConfig, build_pipeline
from dubkit.backends.faster_whisper import FasterWhisperTranscriber
from dubkit.models.speech import SpeechRegion
from dubkit.pipeline import Pipeline
from dubkit.pipeline.keys import AUDIO, SPEAKERS, SPEECH
from dubkit.stages.chunking import chunk_regions
from dubkit.stages.review import word_error_rate
from dubkit.testing.sample_video import SampleVideo, lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "batched.json"
MODES: dict[str, int] = {"sequential": 0, "batch1": 1, "batch2": 2, "batch4": 4}
BEAM = 5
CHUNK_SECONDS = 120.0


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def transcription(sample: SampleVideo, video: Path, run_dir: Path) -> dict[str, Any]:
    """Part 1: the stage's chunks, transcribed by each mode in turn."""
    with build_pipeline(PipelineConfig()) as full, Pipeline(full.stages[:5]) as front:
        artifacts = front.run(video, to="es", source_language="en", run_dir=run_dir).artifacts
    turns = artifacts[SPEAKERS].turns
    regions = [SpeechRegion(t.start, t.end) for t in turns] if turns else list(artifacts[SPEECH].regions)
    chunks = chunk_regions(regions, CHUNK_SECONDS)
    audio = artifacts[AUDIO].analysis
    backends = {
        mode: FasterWhisperTranscriber(FasterWhisperTranscriber.Options(beam_size=BEAM, batch_size=size))
        for mode, size in MODES.items()
    }
    for backend in backends.values():
        backend.load()
    wall = dict.fromkeys(MODES, 0.0)
    cpu = dict.fromkeys(MODES, 0.0)
    texts: dict[str, list[str]] = {mode: [] for mode in MODES}
    segments = dict.fromkeys(MODES, 0)
    load_before = _load()
    for index, chunk in enumerate(chunks):
        order = list(MODES) if index % 2 == 0 else list(reversed(MODES))
        for mode in order:
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            transcript = backends[mode].transcribe(audio, chunk, "en")
            wall[mode] += time.perf_counter() - started
            cpu[mode] += _cpu_seconds() - cpu_started
            texts[mode] += [s.text for s in transcript.segments]
            segments[mode] += len(transcript.segments)
    for backend in backends.values():
        backend.close()
    reference = sample.text
    modes = {}
    for mode, size in MODES.items():
        modes[mode] = {
            "batch_size": size,
            "wall_seconds": round(wall[mode], 2),
            "cpu_seconds": round(cpu[mode], 2),
            "wer": round(word_error_rate(reference, " ".join(texts[mode])), 4),
            "segments": segments[mode],
            "wall_vs_sequential": round(wall[mode] / wall["sequential"], 3),
            "cpu_vs_sequential": round(cpu[mode] / cpu["sequential"], 3),
        }
    speech = sum(r.end - r.start for r in regions)
    return {
        "model": "whisper base (packaged), int8, CPU",
        "beam_size": BEAM,
        "chunks": len(chunks),
        "speech_seconds": round(speech, 1),
        "script_lines": len(sample.lines),
        "modes": modes,
        "wer_points_batched_minus_sequential": round(
            100 * (modes["batch4"]["wer"] - modes["sequential"]["wer"]), 2
        ),
        "load_average": [load_before, _load()],
    }


def _dub(video: Path, out: Path, options: list[str]) -> dict[str, Any]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent)) or "dubkit"
    command = [exe, "dub", str(video), "--to", "es", "-o", str(out), "--synthesizer", "espeak-ng", *options]
    load_before = _load()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    project = DubProject.load(out / f"{video.stem}.es.dub.json")
    media = project.source.duration
    stages = project.quality.stage_seconds
    transcriber = project.backends["transcriber"]
    return {
        "options": options,
        "transcriber": {"device": transcriber.device, "compute_type": transcriber.compute_type},
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "real_time_factor": round(wall / media, 4),
        "cpu_real_time_factor": round((usage.ru_utime + usage.ru_stime) / media, 4),
        "stage_seconds": stages,
        "quality": measure(project),
        "load_average": [load_before, _load()],
    }


def whole_dub(video: Path, folder: Path) -> dict[str, Any]:
    """Part 2: the whole dub, batched (the default) then sequential."""
    batched = _dub(video, folder / "batched", [])
    sequential = _dub(video, folder / "sequential", ["--option", "transcriber.batch_size=0"])
    return {
        "batched": batched,
        "sequential": sequential,
        "wall_batched_over_sequential": round(batched["wall_seconds"] / sequential["wall_seconds"], 3),
        "cpu_batched_over_sequential": round(batched["cpu_seconds"] / sequential["cpu_seconds"], 3),
        "transcribe_batched_over_sequential": round(
            batched["stage_seconds"]["transcribe"] / sequential["stage_seconds"]["transcribe"], 3
        ),
        "targets": {"real_time_factor": 0.12},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--skip-dub", action="store_true", help="only the transcription stage (part 1)")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    with tempfile.TemporaryDirectory(prefix="dubkit-bench-") as tmp:
        folder = Path(tmp)
        video = folder / f"lecture-{args.minutes:g}min.mp4"
        sample = make_sample_video(video, script=lecture_script(args.minutes))
        results["media_seconds"] = round(sample.duration, 1)
        results["transcription"] = transcription(sample, video, folder / "run")
        print(json.dumps(results["transcription"], indent=1), flush=True)
        if not args.skip_dub:
            results["dub"] = whole_dub(video, folder)
            print(json.dumps(results["dub"], indent=1), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
