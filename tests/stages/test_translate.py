"""The translate stage: sentences per translator call, chosen by the translator or given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BackendKind, BaseTranslator, NoOptions, Registry, TranslationCandidate
from dubkit.pipeline.warm import bind_backend
from dubkit.stages.translate import TranslateStage
from dubkit.testing import SampleVideo


class BatchRecorder(BaseTranslator[NoOptions]):
    """Echoes every line, recording how many lines each call carried."""

    batch_lines = 2
    calls: ClassVar[list[int]] = []

    def translate(
        self, texts: Sequence[str], source: str, target: str, n_best: int = 1
    ) -> list[list[TranslationCandidate]]:
        type(self).calls.append(len(texts))
        return [[TranslationCandidate(text.upper())] for text in texts]


def _stage(registry: Registry, name: str, batch_size: int | None = None) -> TranslateStage:
    return TranslateStage(bind_backend(registry, BackendKind.TRANSLATOR, name, None), batch_size=batch_size)


def test_the_batch_is_the_translators_choice_unless_one_is_given() -> None:
    registry = Registry()
    registry.register("translator", "recorder", BatchRecorder)
    assert _stage(registry, "apertium").batch_size == 512  # a process per call: many lines each
    assert _stage(registry, "shout").batch_size == 32  # no preference
    assert _stage(registry, "recorder").batch_size == 2
    assert _stage(registry, "apertium", batch_size=8).batch_size == 8
    with pytest.raises(ValueError, match="batch_size"):
        _stage(registry, "apertium", batch_size=0)


def test_a_dub_sends_the_translator_its_preferred_batches(tmp_path: Path, sample: SampleVideo) -> None:
    registry = Registry()
    registry.register("translator", "recorder", BatchRecorder)
    BatchRecorder.calls = []
    config = PipelineConfig(
        vad="energy", diarizer="single", transcriber="faster-whisper", translator="recorder"
    )
    config = config.model_copy(update={"synthesizer": "sine-voice"})
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    sentences = len(result.project.sentences)  # the units of translation
    assert len(result.project.segments) >= sentences >= 3
    assert sum(BatchRecorder.calls) == sentences
    assert max(BatchRecorder.calls) == 2
