"""The translate stage with sentence units: context, the split back into lines, fallbacks, edits, the cache.

The stage runs on a transcript made here (no media is decoded) with real translators: Apertium for
English -> Spanish, and small translators written here that record what they are given or fail on
purpose (the thing under test is the stage).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from dubkit.backends import BackendKind, BaseTranslator, NoOptions, Registry, TranslationCandidate
from dubkit.backends.protocols import ContextualTranslator
from dubkit.backends.translator_choice import TranslatorChoice
from dubkit.errors import BackendRuntimeError, StageError, UnsupportedLanguagePairError
from dubkit.models.media import ExtractedAudio
from dubkit.models.speech import Transcript, TranscriptSegment, Translation, TranslationFallback
from dubkit.models.translation import TranslationUnit
from dubkit.pipeline.cache import ArtifactStore
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, TRANSCRIPT
from dubkit.pipeline.progress import CancelToken
from dubkit.pipeline.stage import Artifacts, RunRequest, SourceFile
from dubkit.pipeline.warm import bind_backend
from dubkit.stages.translate import TranslateStage
from dubkit.testing.samples import write_tone_wav

# "Ask not what your country can do for you", cut at two pauses, then a sentence of its own.
LINES = (
    ("seg-0001", 0.5, 0.9, "Ask"),
    ("seg-0002", 1.4, 1.9, "not what"),
    ("seg-0003", 2.4, 4.1, "your country can do for you."),
    ("seg-0004", 5.5, 7.0, "The river carries the boat."),
)


def transcript(lines: Sequence[tuple[str, float, float, str]] = LINES) -> Transcript:
    return Transcript(
        language="en",
        segments=tuple(TranscriptSegment(id=i, start=s, end=e, text=t) for i, s, e, t in lines),
    )


class Recorder(BaseTranslator[NoOptions]):
    """Upper-cases; records every unit (with its context) it is given."""

    units: ClassVar[list[TranslationUnit]] = []

    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
        return [[t.upper()] for t in texts]

    def translate_units(
        self, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
    ) -> list[list[str]]:
        type(self).units.extend(units)
        return [[u.text.upper()] for u in units]


class Plain(BaseTranslator[NoOptions]):
    """Upper-cases plain texts (today's protocol, no context); records the texts."""

    texts: ClassVar[list[str]] = []

    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
        type(self).texts.extend(texts)
        return [[t.upper()] for t in texts]


class NoLongSentences(BaseTranslator[NoOptions]):
    """Fails on any text of more than six words, and on any text with "boat" in it."""

    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
        if any(len(t.split()) > 6 or "boat" in t for t in texts):
            raise BackendRuntimeError("too long for me", kind="translator", name="short")
        return [[t.upper()] for t in texts]


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register("translator", "recorder", Recorder)
    registry.register("translator", "plain", Plain)
    registry.register("translator", "short", NoLongSentences)
    return registry


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> ExtractedAudio:
    wav = write_tone_wav(tmp_path_factory.mktemp("audio") / "analysis.wav", seconds=8.0)
    return ExtractedAudio(analysis=wav, full=wav)


def run(
    stage: TranslateStage,
    folder: Path,
    audio: ExtractedAudio,
    *,
    edits: dict[str, str] | None = None,
    strict: bool = False,
    target: str = "es",
    lines: Sequence[tuple[str, float, float, str]] = LINES,
) -> Translation:
    store = ArtifactStore(folder / "run")
    request = RunRequest(
        source=SourceFile(path=folder / "talk.mp4", sha256="0" * 64, size=1),
        target_language=target,
        source_language="en",
        translation_edits=tuple(sorted((edits or {}).items())),
        strict=strict,
    )
    stage.validate(request)
    ctx = StageContext(
        stage="translate",
        request=request,
        work_dir=folder / "work",
        run_dir=store.root,
        report=lambda *_: None,
        cancel=CancelToken(),
        units=store.units,
    )
    return stage.run(ctx, Artifacts({TRANSCRIPT.name: transcript(lines), AUDIO.name: audio}))


def stage_of(registry: Registry, name: str) -> TranslateStage:
    return TranslateStage(bind_backend(registry, BackendKind.TRANSLATOR, name, None))


def test_fragments_are_translated_as_one_sentence_and_split_back(
    tmp_path: Path, audio: ExtractedAudio
) -> None:
    stage = TranslateStage(bind_backend(Registry(), BackendKind.TRANSLATOR, "apertium", None))
    translation = run(stage, tmp_path, audio)
    first, second = translation.sentences
    assert first.id == "seg-0001..seg-0003"
    assert first.segment_ids == ("seg-0001", "seg-0002", "seg-0003")
    assert first.text == first.machine_text and not first.edited
    pieces = translation.by_id()
    assert " ".join(pieces[i].text for i in first.segment_ids) == first.text
    assert all(pieces[i].text for i in first.segment_ids)  # every line says a piece of it
    assert "  " not in first.text and not any(c in first.text for c in "*@#")
    assert second.id == "seg-0004" and pieces["seg-0004"].text == second.text
    assert translation.translator is not None and translation.translator.name == "apertium"
    assert not translation.translator.chosen


def test_a_contextual_translator_sees_the_sentences_around_each_one(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    assert isinstance(Recorder(), ContextualTranslator)
    Recorder.units = []
    run(stage_of(registry, "recorder"), tmp_path, audio)
    first, second = Recorder.units
    assert first.text == "Ask not what your country can do for you."
    assert (first.before, first.after) == ((), ("The river carries the boat.",))
    assert first.spans == ((0.5, 0.9), (1.4, 1.9), (2.4, 4.1))
    assert second.before == ("Ask not what your country can do for you.",) and second.after == ()


def test_a_translator_written_for_plain_texts_keeps_working(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    Plain.texts = []
    translation = run(stage_of(registry, "plain"), tmp_path, audio)
    assert Plain.texts == ["Ask not what your country can do for you.", "The river carries the boat."]
    assert translation.sentences[0].text == "ASK NOT WHAT YOUR COUNTRY CAN DO FOR YOU."


def test_a_failed_sentence_falls_back_to_its_lines_then_to_the_source(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    translation = run(stage_of(registry, "short"), tmp_path, audio)
    by_line, kept = translation.sentences
    assert by_line.fallback is TranslationFallback.PIECES
    pieces = translation.by_id()
    assert [pieces[i].text for i in by_line.segment_ids] == [
        "ASK",
        "NOT WHAT",
        "YOUR COUNTRY CAN DO FOR YOU.",
    ]
    assert by_line.text == "ASK NOT WHAT YOUR COUNTRY CAN DO FOR YOU."
    assert kept.fallback is TranslationFallback.SOURCE
    assert pieces["seg-0004"].text == "The river carries the boat."  # kept as said, for review
    assert translation.issues == ()  # the dub completes


def test_a_strict_run_fails_where_the_source_text_would_be_kept(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    with pytest.raises(StageError, match="translator failed"):
        run(stage_of(registry, "short"), tmp_path, audio, strict=True)


def test_editing_a_sentence_splits_the_edit_over_its_lines_and_a_line_edit_wins(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    stage = stage_of(registry, "plain")
    run(stage, tmp_path, audio)
    Plain.texts = []
    edited = run(
        stage,
        tmp_path,
        audio,
        edits={"seg-0001..seg-0003": "No preguntes qué puede hacer tu país por ti.", "seg-0004": "El río."},
    )
    assert Plain.texts == []  # nothing is translated again: edits and the unit cache
    sentence, other = edited.sentences
    assert sentence.edited and sentence.text == "No preguntes qué puede hacer tu país por ti."
    assert sentence.machine_text == "ASK NOT WHAT YOUR COUNTRY CAN DO FOR YOU."
    pieces = edited.by_id()
    assert " ".join(pieces[i].text for i in sentence.segment_ids) == sentence.text
    assert not any(pieces[i].edited for i in sentence.segment_ids)
    assert other.text == pieces["seg-0004"].text == "El río." and pieces["seg-0004"].edited
    line = run(stage, tmp_path, audio, edits={"seg-0002": "no lo que"})
    assert line.by_id()["seg-0002"].text == "no lo que" and line.by_id()["seg-0002"].edited
    assert not line.sentences[0].edited


def test_only_a_new_sentence_is_translated_again(
    tmp_path: Path, registry: Registry, audio: ExtractedAudio
) -> None:
    stage = stage_of(registry, "plain")
    run(stage, tmp_path, audio)
    Plain.texts = []
    run(stage, tmp_path, audio, lines=[*LINES[:3], ("seg-0004", 5.5, 7.0, "The river carries the ship.")])
    assert Plain.texts == ["The river carries the ship."]


def test_an_unreachable_pair_is_refused_before_any_work_with_the_reachable_targets(
    tmp_path: Path, audio: ExtractedAudio
) -> None:
    stage = TranslateStage(bind_backend(Registry(), BackendKind.TRANSLATOR, "apertium", None))
    with pytest.raises(UnsupportedLanguagePairError) as info:
        run(stage, tmp_path, audio, target="ja")
    assert info.value.reachable is not None and "es" in info.value.reachable
    assert "ja" not in info.value.reachable


def test_the_automatic_choice_is_recorded(tmp_path: Path, audio: ExtractedAudio) -> None:
    from dubkit.pipeline.build import PipelineConfig, bind_translators

    choice = bind_translators(Registry(), PipelineConfig())
    assert isinstance(choice, TranslatorChoice) and not choice.named
    translation = run(TranslateStage(choice), tmp_path, audio)
    assert translation.translator is not None
    assert (translation.translator.name, translation.translator.chosen) == ("apertium", True)


class _Candidates(BaseTranslator[NoOptions]):
    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[object]]:
        return [[TranslationCandidate(f"{t}  *x"), t, t] for t in texts]


def test_candidates_are_tidied_and_deduplicated(tmp_path: Path, audio: ExtractedAudio) -> None:
    registry = Registry()
    registry.register("translator", "candidates", _Candidates)
    stage = TranslateStage(bind_backend(registry, BackendKind.TRANSLATOR, "candidates", None), n_best=3)
    translation = run(stage, tmp_path, audio, lines=LINES[3:])
    assert translation.sentences[0].candidates == (
        "The river carries the boat. *x",
        "The river carries the boat.",
    )
