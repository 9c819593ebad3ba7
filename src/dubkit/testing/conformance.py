"""The backend conformance suite: what every backend must do, checked on real calls."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dubkit.backends.protocols import (
    BackendKind,
    ContextualTranslator,
    ReportingSeparator,
    ReportingTranscriber,
    SpeechTranslator,
    StreamingVAD,
    TranslationCandidate,
    supported_languages,
    supported_pairs,
    synthesizer_voices,
)
from dubkit.backends.registry import validate_backend_class
from dubkit.errors import BackendValidationError, CancelledError
from dubkit.models.media import AudioFile, Stems
from dubkit.models.speech import SpeakerTurn, SpeechRegion, Transcript, Voice
from dubkit.models.translation import TranslationUnit
from dubkit.testing.samples import write_tone_wav

__all__ = ["ConformanceError", "check_backend"]


class ConformanceError(AssertionError):
    """A backend broke the contract; the message says which part."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


def _check_regions(regions: Sequence[SpeechRegion], duration: float) -> None:
    for region in regions:
        _require(
            isinstance(region, SpeechRegion), f"detect() returned {type(region).__name__}, not SpeechRegion"
        )
        _require(0 <= region.start <= region.end <= duration + 0.5, f"region {region} lies outside the audio")


def _check_streaming(backend: StreamingVAD, audio: AudioFile, regions: Sequence[SpeechRegion]) -> None:
    """``detect_streaming`` finds what ``detect`` finds, reporting fractions that rise to 1.0."""
    reported: list[float] = []
    streamed = list(backend.detect_streaming(audio, reported.append))
    _require(streamed == list(regions), "detect_streaming() must find what detect() finds")
    _require(bool(reported), "detect_streaming() never reported its progress")
    _require(
        reported == sorted(reported) and all(0.0 <= f <= 1.0 for f in reported),
        f"progress must rise within 0-1, got {reported}",
    )
    _require(reported[-1] == 1.0, f"progress must end at 1.0 once the file is read, got {reported[-1]}")


def _check_candidates(call: str, out: Sequence[Sequence[object]], asked: Sequence[object]) -> None:
    noun = "texts" if call == "translate()" else "units"
    _require(len(out) == len(asked), f"{call} returned {len(out)} results for {len(asked)} {noun}")
    for candidates in out:
        _require(len(candidates) >= 1, f"{call}: every one of the {noun} needs at least one candidate")
        _require(
            all(isinstance(c, (str, TranslationCandidate)) for c in candidates),
            f"{call}: candidates must be str or TranslationCandidate",
        )


def _check_fractions(name: str, reported: Sequence[float]) -> None:
    _require(bool(reported), f"{name}() never reported its progress")
    _require(
        list(reported) == sorted(reported) and all(0.0 <= f <= 1.0 for f in reported),
        f"{name}() progress must rise within 0-1, got {list(reported)}",
    )


def _cancel_at_once(fraction: float) -> None:
    raise CancelledError("conformance")


def _check_cancel_passes(name: str, call: Callable[[Callable[[float], None]], object]) -> None:
    """A ``progress`` that raises `CancelledError` stops the call, and the error comes through."""
    try:
        call(_cancel_at_once)
    except CancelledError:
        return
    raise ConformanceError(f"{name}() must let the CancelledError its progress raised through")


def _check_reporting_transcriber(
    backend: ReportingTranscriber,
    audio: AudioFile,
    regions: Sequence[SpeechRegion],
    language: str,
    expected: Transcript,
) -> None:
    """``transcribe_reporting`` works as ``transcribe``, reports rising fractions, lets a cancel through."""
    reported: list[float] = []
    got = backend.transcribe_reporting(audio, regions, language, reported.append)
    _require(
        [s.text for s in got.segments] == [s.text for s in expected.segments],
        "transcribe_reporting() must transcribe as transcribe() does",
    )
    _check_fractions("transcribe_reporting", reported)
    _check_cancel_passes(
        "transcribe_reporting",
        lambda progress: backend.transcribe_reporting(audio, regions, language, progress),
    )


def _check_reporting_separator(backend: ReportingSeparator, audio: AudioFile, workdir: Path) -> None:
    """``separate_reporting`` returns stems, reports rising fractions, lets a cancel through."""
    reported: list[float] = []
    stems = backend.separate_reporting(audio, workdir / "reported", reported.append)
    _require(isinstance(stems, Stems), "separate_reporting() must return Stems")
    _check_fractions("separate_reporting", reported)
    _check_cancel_passes(
        "separate_reporting",
        lambda progress: backend.separate_reporting(audio, workdir / "cancelled", progress),
    )


def _exercise_translator(backend: Any, audio: AudioFile, language: str, target: str) -> None:
    texts = ["Hello.", "How are you today?", ""]
    units = [
        TranslationUnit("Hello.", after=("How are you today?",), spans=((0.0, 0.8),)),
        TranslationUnit("How are you today?", before=("Hello.",), spans=((1.0, audio.duration),)),
    ]
    if isinstance(backend, SpeechTranslator):  # it may refuse plain texts: it translates the audio
        _check_candidates(
            "translate_speech()", backend.translate_speech(audio, units, language, target, 2), units
        )
    else:
        _check_candidates("translate()", backend.translate(texts, language, target, 2), texts)
    if isinstance(backend, ContextualTranslator):
        _check_candidates("translate_units()", backend.translate_units(units, language, target, 2), units)
    pairs = supported_pairs(backend)
    _require(pairs is None or all(len(p) == 2 for p in pairs), "language_pairs() must give (source, target)")


def _exercise_synthesizer(backend: Any, workdir: Path, target: str) -> None:
    voices = list(synthesizer_voices(backend, target)) or [Voice(id=target, language=target)]
    _require(all(isinstance(v, Voice) for v in voices), "voices() must return Voice values")
    out_path = workdir / "clip.wav"
    clip = backend.synthesize("Hello there.", voices[0], out_path)
    _require(isinstance(clip, AudioFile), "synthesize() must return an AudioFile")
    _require(out_path.is_file() and out_path.stat().st_size > 44, "synthesize() must write a WAV to out_path")
    _require(clip.duration > 0 and clip.sample_rate > 0, "the clip needs a duration and a sample rate")
    langs = supported_languages(backend)
    _require(langs is None or target in langs, f"languages() does not include {target!r}")


def _exercise(kind: BackendKind, backend: Any, workdir: Path, language: str, target: str) -> None:
    audio = write_tone_wav(workdir / "sample.wav")
    region = [SpeechRegion(0.0, audio.duration)]
    if kind is BackendKind.VAD:
        regions = backend.detect(audio)
        _check_regions(regions, audio.duration)
        if isinstance(backend, StreamingVAD):
            _check_streaming(backend, audio, regions)
    elif kind is BackendKind.DIARIZER:
        turns = backend.diarize(audio, region)
        _require(all(isinstance(t, SpeakerTurn) for t in turns), "diarize() must return SpeakerTurn values")
    elif kind is BackendKind.TRANSCRIBER:
        transcript = backend.transcribe(audio, region, language)
        _require(isinstance(transcript, Transcript), "transcribe() must return a Transcript")
        for seg in transcript.segments:
            _require(
                0 <= seg.start <= seg.end <= audio.duration + 0.5, f"segment {seg.id} lies outside the audio"
            )
        if isinstance(backend, ReportingTranscriber):
            _check_reporting_transcriber(backend, audio, region, language, transcript)
    elif kind is BackendKind.TRANSLATOR:
        _exercise_translator(backend, audio, language, target)
    elif kind is BackendKind.SYNTHESIZER:
        _exercise_synthesizer(backend, workdir, target)
    elif kind is BackendKind.SEPARATOR:
        stereo = write_tone_wav(workdir / "stereo.wav", rate=44100, channels=2)
        stems = backend.separate(stereo, workdir / "stems")
        _require(isinstance(stems, Stems), "separate() must return Stems")
        for stem in (stems.voice, stems.background):
            _require(stem is None or stem.path.is_file(), "stems must exist on disk")
        if isinstance(backend, ReportingSeparator):
            _check_reporting_separator(backend, stereo, workdir)


def check_backend(
    kind: BackendKind | str,
    factory: Callable[[], Any] | type[Any],
    *,
    workdir: Path | None = None,
    language: str = "en",
    target: str = "es",
) -> None:
    """Check a backend against its protocol and exercise it on generated input.

    Args:
        kind: The capability it provides.
        factory: The backend class (constructed without arguments) or a callable returning an instance.
        workdir: Where sample files go (a temp folder by default).
        language: Source language for transcribers and translators.
        target: Target language for translators and synthesizers. A translator is asked to
            translate plain texts; one that takes context (`ContextualTranslator`) also whole
            sentences with their neighbours, and one that translates speech (`SpeechTranslator`) the
            spans of a generated audio file instead of plain texts.

    Raises:
        ConformanceError: the backend broke the contract (the message says how).
    """
    kind = BackendKind(kind)
    cls = factory if isinstance(factory, type) else type(factory())
    try:
        validate_backend_class(kind, cls.__name__, cls)
    except BackendValidationError as exc:
        raise ConformanceError(str(exc)) from exc
    backend = factory()
    _require(not getattr(backend, "loaded", False), "the constructor must not load weights (do it in load())")
    with tempfile.TemporaryDirectory() as tmp:
        folder = workdir or Path(tmp)
        with backend as entered:
            _require(entered is backend, "__enter__ must return the backend itself")
            backend.load()  # idempotent
            _exercise(kind, backend, folder, language, target)
        backend.close()  # idempotent after __exit__
