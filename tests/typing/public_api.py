"""Public-API usage that must type-check under mypy --strict (run by ./dev.sh lint and nox -s typing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

import dubkit
from dubkit import BaseTranslator, CancelToken, PipelineConfig, ProgressEvent
from dubkit.backends import NoOptions, Registry
from dubkit.models import AudioFile, Voice
from dubkit.pipeline import DubResult, Pipeline


class Echo(BaseTranslator[NoOptions]):
    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
        return [[t] for t in texts]


@attrs.frozen
class LoudOptions:
    volume: float = 1.0


class Loud(dubkit.BaseSynthesizer[LoudOptions]):
    Options = LoudOptions

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        return AudioFile(path=out_path, sample_rate=16000, channels=1, duration=self.options.volume)


def on_progress(event: ProgressEvent) -> None:
    print(event.stage, f"{event.fraction:.0%}", event.message)


def build() -> Pipeline:
    registry = Registry()
    registry.register("translator", "echo", Echo)
    config = PipelineConfig(translator="echo", vad="energy", diarizer="single", n_best=2)
    return dubkit.build_pipeline(config, registry=registry)


def run(pipeline: Pipeline, token: CancelToken) -> str:
    result: DubResult = pipeline.run(
        "talk.mp4", to="es", run_dir="runs/talk", progress=on_progress, cancel=token
    )
    first = result.project.segments[0]
    return first.translation


def one_liner() -> list[str]:
    single: DubResult = dubkit.dub("talk.mp4", to="es", progress=False)
    several: list[DubResult] = dubkit.dub("talk.mp4", to=["es", "fr"])
    return [single.project.target_language] + [r.project.target_language for r in several]
