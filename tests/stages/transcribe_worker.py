"""Dubs a video with a counting stand-in transcriber, optionally SIGKILLing itself mid-transcription.

Usage: ``transcribe_worker.py VIDEO RUN_DIR CALLS_FILE CHUNK_SECONDS KILL_AT_CALL``. Every transcriber
call appends a line to CALLS_FILE; with KILL_AT_CALL > 0 the process kills itself (SIGKILL, no
clean-up) when that call starts, i.e. after KILL_AT_CALL - 1 chunks were transcribed and committed.
On success it prints the timing plan as JSON (the fit stage's output, every clip's placement).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline.keys import TIMING


class CountingTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region; its text names the region's start, so any chunking gives the same lines."""

    calls_file: Path
    kill_at_call: int
    calls = 0

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        type(self).calls += 1
        with type(self).calls_file.open("a", encoding="utf-8") as calls:
            calls.write(f"{len(regions)}\n")
        if type(self).calls == type(self).kill_at_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(
                    id=f"r{i}", start=r.start, end=r.end, text=f"line at {r.start:.2f} seconds of the talk"
                )
                for i, r in enumerate(regions)
            ),
        )


def main(video: str, run_dir: str, calls_file: str, chunk_seconds: str, kill_at_call: str) -> None:
    CountingTranscriber.calls_file = Path(calls_file)
    CountingTranscriber.kill_at_call = int(kill_at_call)
    registry = Registry()
    registry.register("transcriber", "counting", CountingTranscriber)
    config = PipelineConfig(
        vad="energy",
        diarizer="single",
        transcriber="counting",
        translator="shout",
        synthesizer="sine-voice",
        transcribe_chunk_seconds=float(chunk_seconds),
    )
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(Path(video), to="es", source_language="en", run_dir=Path(run_dir))
    print(json.dumps([attrs.asdict(t) for t in result.artifacts[TIMING].timings]))


if __name__ == "__main__":
    main(*sys.argv[1:])
