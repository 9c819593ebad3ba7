"""The synthesize stage voices lines in parallel when the synthesizer allows it, with the same result."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.errors import BackendRuntimeError
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment
from dubkit.models.speech import Synthesis, Voice
from dubkit.pipeline.keys import SYNTHESIS
from dubkit.stages.synthesize import _concurrent_calls
from dubkit.testing import SampleVideo, make_sample_video

dubkit_sample_plugin = pytest.importorskip("dubkit_sample_plugin")
from dubkit_sample_plugin.voice import SineVoice


class RepeatingTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region; two lines in a row say the same, every other pair at length.

    Every third pair fails, its first line slowly: voiced at once, the second line fails first.
    """

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        texts = ["hello there", "the same words again", "this fails"]
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(
                    id=f"r{i}",
                    start=r.start,
                    end=r.end,
                    text=(("slowly " if i % 2 == 0 else "") if i // 2 % 3 == 2 else "")
                    + texts[i // 2 % 3]
                    + (" and a much longer tail to voice" * 3 if i // 2 % 2 else ""),
                )
                for i, r in enumerate(regions)
            ),
        )


class CountingVoice(SineVoice):
    """The sample voice, slowed a little, counting calls at once; lines with "fails" always fail."""

    concurrent_calls = 2
    lock = threading.Lock()
    running = 0
    most = 0
    keys: list[tuple[str, float, str]] = []  # noqa: RUF012

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        cls = CountingVoice  # the counters are shared by the subclass
        with cls.lock:
            cls.running += 1
            cls.most = max(cls.most, cls.running)
            cls.keys.append((voice.id, voice.rate, text))
        try:
            time.sleep(0.05 if "SLOWLY" in text else 0.01)
            if "FAILS" in text:
                raise BackendRuntimeError("this line cannot be voiced", kind="synthesizer", name="counting")
            return super().synthesize(text, voice, out_path)
        finally:
            with cls.lock:
                cls.running -= 1


class OneAtATimeVoice(CountingVoice):
    concurrent_calls = 1


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


def _synthesis(voice: type[CountingVoice], sample: SampleVideo, run_dir: Path) -> Synthesis:
    registry = Registry()
    registry.register("transcriber", "repeating", RepeatingTranscriber)
    registry.register("synthesizer", "counting", voice)
    config = PipelineConfig(
        vad="energy", diarizer="single", transcriber="repeating", translator="shout", synthesizer="counting"
    )
    CountingVoice.running = CountingVoice.most = 0
    CountingVoice.keys = []
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=run_dir)
    synthesis: Synthesis = result.artifacts[SYNTHESIS]
    return synthesis


def _comparable(synthesis: Synthesis) -> tuple[object, ...]:
    def clips(items: Sequence[object]) -> list[tuple[object, ...]]:
        return [(c.segment_id, c.path.name, c.duration, c.voice, c.text, c.candidate) for c in items]  # type: ignore[attr-defined]

    return (
        clips(synthesis.clips),
        clips(synthesis.alternatives),
        synthesis.voices,
        [(i.segment_id, i.stage, i.message) for i in synthesis.issues],
    )


def test_two_lines_at_a_time_give_what_one_at_a_time_gives(tmp_path: Path, sample: SampleVideo) -> None:
    serial = _synthesis(OneAtATimeVoice, sample, tmp_path / "serial")
    assert CountingVoice.most == 1
    parallel = _synthesis(CountingVoice, sample, tmp_path / "parallel")
    assert CountingVoice.most == 2
    assert _comparable(parallel) == _comparable(serial)
    # the case is a real one: repeated texts, failures recorded as issues, alternatives voiced
    assert len(serial.clips) >= 4
    assert serial.alternatives
    assert serial.issues and all("cannot be voiced" in i.message for i in serial.issues)
    # a voice and text two lines share is voiced once, even when both lines are voiced at once
    voiced = [key for key in CountingVoice.keys if "FAILS" not in key[2]]
    assert len(voiced) == len(set(voiced))


def test_concurrent_calls_is_read_defensively() -> None:
    class Plain:
        pass

    class Bad:
        concurrent_calls = "two"

    assert _concurrent_calls(Plain()) == 1
    assert _concurrent_calls(Bad()) == 1
    assert _concurrent_calls(CountingVoice()) == 2
