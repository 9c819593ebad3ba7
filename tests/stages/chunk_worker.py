"""Dubs a video with one stage's backend counting its chunk calls, optionally SIGKILLing itself mid-stage.

Usage: ``chunk_worker.py STAGE VIDEO RUN_DIR CALLS_FILE CHUNK_SECONDS KILL_AT_CALL``, STAGE one of
``vad``, ``diarize``, ``transcribe``: that stage runs in chunks of CHUNK_SECONDS with a counting
backend. Every call of the counting backend appends a line to CALLS_FILE; with KILL_AT_CALL > 0 the
process kills itself (SIGKILL, no clean-up) when that call starts, i.e. after KILL_AT_CALL - 1 chunks
were finished and checkpointed. On success it prints the timing plan as JSON (the fit stage's output,
every clip's placement) and the speaker of every turn.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import attrs

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.backends.energy_vad import EnergyVAD
from dubkit.backends.resemblyzer_diarizer import ResemblyzerDiarizer
from dubkit.models import AudioFile, ChunkDiarization, SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline.keys import SPEAKERS, TIMING


class Calls:
    """The call counter every counting backend shares."""

    stage: ClassVar[str]
    file: ClassVar[Path]
    kill_at: ClassVar[int] = 0
    count: ClassVar[int] = 0

    @classmethod
    def record(cls, stage: str, line: str) -> None:
        """Count a call of ``stage``'s backend (only the stage under test counts)."""
        if stage != cls.stage:
            return
        cls.count += 1
        with cls.file.open("a", encoding="utf-8") as calls:
            calls.write(f"{line}\n")
        if cls.count == cls.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


class CountingVAD(EnergyVAD):
    """The energy VAD, counting its calls (one per chunk)."""

    def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
        Calls.record("vad", f"{audio.duration:.2f}")
        return super().detect(audio)


class CountingDiarizer(ResemblyzerDiarizer):
    """The resemblyzer diarizer, counting its chunk calls."""

    def diarize_chunk(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> ChunkDiarization:
        Calls.record("diarize", f"{len(regions)}")
        return super().diarize_chunk(audio, regions)


class CountingTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region; its text names the region's start, so any chunking gives the same lines."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        Calls.record("transcribe", f"{len(regions)}")
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(
                    id=f"r{i}", start=r.start, end=r.end, text=f"line at {r.start:.2f} seconds of the talk"
                )
                for i, r in enumerate(regions)
            ),
        )


def counting_config(stage: str, chunk_seconds: float) -> tuple[PipelineConfig, Registry]:
    """A fast pipeline whose ``stage`` runs in chunks with a counting backend."""
    registry = Registry()
    registry.register("vad", "counting", CountingVAD)
    registry.register("diarizer", "counting", CountingDiarizer)
    registry.register("transcriber", "counting", CountingTranscriber)
    config = PipelineConfig(
        vad="counting" if stage == "vad" else "energy",
        diarizer="counting" if stage == "diarize" else "single",
        transcriber="counting",
        translator="shout",
        synthesizer="sine-voice",
        **{f"{stage}_chunk_seconds": chunk_seconds},
    )
    return config, registry


def main(
    stage: str, video: str, run_dir: str, calls_file: str, chunk_seconds: str, kill_at_call: str
) -> None:
    Calls.stage, Calls.file, Calls.kill_at = stage, Path(calls_file), int(kill_at_call)
    config, registry = counting_config(stage, float(chunk_seconds))
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(Path(video), to="es", source_language="en", run_dir=Path(run_dir))
    print(
        json.dumps(
            {
                "timing": [attrs.asdict(t) for t in result.artifacts[TIMING].timings],
                "speakers": [t.speaker for t in result.artifacts[SPEAKERS].turns],
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
