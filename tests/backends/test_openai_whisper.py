from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from dubkit.backends.openai_whisper import WHISPER_LANGUAGES, OpenAIWhisperTranscriber
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import build_options
from dubkit.errors import BackendUnavailableError
from dubkit.models.speech import SpeechRegion
from dubkit.testing import check_backend, write_tone_wav

pytest.importorskip("whisper")


def fast(checkpoint: Path, **changes: Any) -> OpenAIWhisperTranscriber.Options:
    """Greedy, one temperature, no prompt: the random model is cheap to run."""
    opts = OpenAIWhisperTranscriber.Options(
        model=str(checkpoint), beam_size=None, temperature=(0.0,), condition_on_previous_text=False
    )
    return attrs.evolve(opts, **changes)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.tiny_models import whisper_checkpoint

    return whisper_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny.pt")


@pytest.fixture(scope="module")
def transcriber(checkpoint: Path) -> OpenAIWhisperTranscriber:
    backend = OpenAIWhisperTranscriber(fast(checkpoint))
    backend.load()
    return backend


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.openai_whisper import OpenAIWhisperTranscriber as T\n"
        "b = T(T.Options(model='base'))\n"
        "assert 'en' in b.languages()\n"
        "heavy = [m for m in ('torch', 'whisper', 'numba') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_from_a_mapping() -> None:
    opts = build_options(
        BackendKind.TRANSCRIBER,
        "openai-whisper",
        OpenAIWhisperTranscriber.Options,
        {"model": "small", "beam_size": None, "temperature": [0.0, 0.5]},
    )
    assert opts.model == "small"
    assert opts.beam_size is None
    assert opts.temperature == (0.0, 0.5)


def test_language_table_matches_whisper() -> None:
    from whisper.tokenizer import LANGUAGES

    assert {"nb" if code == "no" else code for code in LANGUAGES} == WHISPER_LANGUAGES
    assert OpenAIWhisperTranscriber(OpenAIWhisperTranscriber.Options(model="base.en")).languages() == {"en"}


def test_transcribes_only_regions_with_absolute_times(
    transcriber: OpenAIWhisperTranscriber, tmp_path: Path
) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=6.0)
    regions = [SpeechRegion(3.0, 5.5), SpeechRegion(0.5, 2.0)]  # out of order on purpose
    transcript = transcriber.transcribe(audio, regions, "es")
    assert transcript.language == "es"
    assert transcript.language_probability is None
    assert transcript.segments, "the random model still emits tokens"
    for seg in transcript.segments:
        assert any(r.start <= seg.start <= seg.end <= r.end for r in regions), seg
        assert seg.text == seg.text.strip() and seg.text
        assert seg.confidence is not None and 0.0 <= seg.confidence <= 1.0
        for word in seg.words:
            assert seg.start - 1e-6 <= word.start <= word.end <= seg.end + 1e-6
    assert [s.id for s in transcript.segments] == [
        f"seg-{i:04d}" for i in range(1, len(transcript.segments) + 1)
    ]
    assert any(seg.start >= 3.0 for seg in transcript.segments), "the later region was transcribed"


def test_detects_the_language_when_none_is_given(
    transcriber: OpenAIWhisperTranscriber, tmp_path: Path
) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=3.0)
    transcript = transcriber.transcribe(audio, [SpeechRegion(0.0, 3.0)], None)
    assert transcript.language in WHISPER_LANGUAGES
    assert transcript.language_probability is not None
    assert 0.0 < transcript.language_probability <= 1.0


def test_no_regions_means_no_work(transcriber: OpenAIWhisperTranscriber, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=1.0)
    assert transcriber.transcribe(audio, [], "en").segments == ()
    assert transcriber.transcribe(audio, [SpeechRegion(5.0, 6.0)], None).language == "und"


def test_word_timestamps_off(checkpoint: Path, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=2.0)
    opts = fast(checkpoint, word_timestamps=False)
    with OpenAIWhisperTranscriber(opts) as backend:
        transcript = backend.transcribe(audio, [SpeechRegion(0.0, 2.0)], "en")
    assert all(seg.words == () for seg in transcript.segments)
    assert not backend.loaded


def test_conforms(checkpoint: Path, tmp_path: Path) -> None:
    opts = fast(checkpoint, word_timestamps=False)
    check_backend("transcriber", lambda: OpenAIWhisperTranscriber(opts), workdir=tmp_path)


def test_a_missing_model_is_a_typed_error(tmp_path: Path) -> None:
    backend = OpenAIWhisperTranscriber(OpenAIWhisperTranscriber.Options(model=str(tmp_path / "nope.pt")))
    with pytest.raises(BackendUnavailableError) as info:
        backend.load()
    assert "local checkpoint" in info.value.reason
    assert not backend.loaded


def test_non_16k_input_is_resampled(transcriber: OpenAIWhisperTranscriber, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "tone8k.wav", seconds=2.0, rate=8000)
    transcript = transcriber.transcribe(audio, [SpeechRegion(0.0, 2.0)], "en")
    assert all(0.0 <= s.start <= s.end <= 2.0 for s in transcript.segments)
    assert np.isfinite([s.end for s in transcript.segments]).all()


def test_an_import_failure_carries_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "whisper", None)  # makes the import raise ImportError
    with pytest.raises(BackendUnavailableError) as info:
        OpenAIWhisperTranscriber().load()
    assert info.value.install == "pip install 'dubkit[whisper]'"
