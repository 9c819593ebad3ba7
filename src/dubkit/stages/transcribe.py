"""Stage 6, transcribe: speech regions to timed text, each line attributed to a speaker.

Long inputs are transcribed in chunks of about `TranscribeStage.chunk_seconds` of the timeline, cut
between speech regions (so at silences or speaker changes, never inside a region). Each finished
chunk is a checkpoint in the stage's unit cache: a run killed half way through transcription
resumes at the first unfinished chunk. A `dubkit.backends.protocols.ReportingTranscriber` (faster-whisper
is one) reports inside a chunk as it decodes, and a cancelled run stops there between decoded segments
rather than at the chunk's end. When the source language is left to detection, the first
chunk's detected language is used for the rest, so every chunk is transcribed in one language.
Adjacent lines that repeat one sentence are merged (`merge_repeated_lines`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import ReportingTranscriber, Transcriber, supported_languages
from dubkit.errors import StageError, UnknownLanguageError
from dubkit.models.languages import get_language
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline.cache import hash_file, stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEAKERS, SPEECH, TRANSCRIPT
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.chunking import chunk_regions

__all__ = ["TranscribeStage", "merge_repeated_lines"]

_REPEAT_MAX_GAP = 1.0
_REPEAT_MIN_WORDS = 4


def _normalised(text: str) -> str:
    return " ".join("".join(c for c in text.casefold() if c.isalnum() or c.isspace()).split())


def merge_repeated_lines(
    segments: Sequence[TranscriptSegment],
    *,
    max_gap: float = _REPEAT_MAX_GAP,
    min_words: int = _REPEAT_MIN_WORDS,
) -> list[TranscriptSegment]:
    """Adjacent lines that say the same sentence twice, merged into one line spanning both.

    Whisper sometimes writes a whole sentence for each of two neighbouring regions (a sentence that
    diarization cut in two): dubbed as two lines, the sentence would be spoken twice and the second copy
    pushed late. Lines merge when their texts are equal (ignoring case and punctuation), have at least
    ``min_words`` words (so a real "Yes. Yes." stays) and at most ``max_gap`` seconds lie between them.
    The merged line keeps the text and words of the longer of the two.
    """
    merged: list[TranscriptSegment] = []
    for seg in segments:
        if merged:
            last = merged[-1]
            text = _normalised(seg.text)
            if (
                text == _normalised(last.text)
                and len(text.split()) >= min_words
                and seg.start - last.end <= max_gap
            ):
                longer = seg if seg.duration > last.duration else last
                merged[-1] = attrs.evolve(
                    longer, start=min(last.start, seg.start), end=max(last.end, seg.end), id=last.id
                )
                continue
        merged.append(seg)
    return merged


class TranscribeStage(BaseStage[Transcript]):
    """Transcribes speaker turns (or speech regions) and numbers the segments ``seg-0001``...

    Args:
        transcriber: The transcriber backend.
        chunk_seconds: Longest stretch of the timeline transcribed in one call; each finished chunk is a
            checkpoint a rerun resumes from.
    """

    name = "transcribe"
    version = "2"
    inputs = (AUDIO, SPEECH, SPEAKERS)
    output = TRANSCRIPT

    def __init__(self, transcriber: BackendBinding[Transcriber], *, chunk_seconds: float = 120.0) -> None:
        if chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
        self.transcriber = transcriber
        self.chunk_seconds = chunk_seconds

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The transcriber's identity and the source language asked for."""
        return {"backend": self.transcriber.fingerprint(), "language": request.source_language}

    def validate(self, request: RunRequest) -> None:
        """A given source language must be one the transcriber knows.

        Raises:
            UnknownLanguageError: it is not.
        """
        if request.source_language is None:
            return
        langs: Collection[str] | None = supported_languages(self.transcriber.instance)
        if langs is not None and request.source_language not in langs:
            raise UnknownLanguageError(request.source_language, list(langs), backend=self.transcriber.name)

    def run(self, ctx: StageContext, inputs: Artifacts) -> Transcript:
        """Transcribe chunk by chunk, then attribute every segment to the speaker who talks most in it."""
        speech = inputs[SPEECH]
        diarization = inputs[SPEAKERS]
        if not speech.regions:
            return Transcript(language=ctx.request.source_language or "und")
        regions = (
            tuple(SpeechRegion(t.start, t.end) for t in diarization.turns)
            if diarization.turns
            else speech.regions
        )
        raw = self._transcribe_chunks(ctx, inputs[AUDIO].analysis, chunk_regions(regions, self.chunk_seconds))
        language = raw.language
        with contextlib.suppress(UnknownLanguageError):
            language = get_language(language).code
        lines = merge_repeated_lines(
            sorted((s for s in raw.segments if s.text.strip()), key=lambda s: s.start)
        )
        segments = []
        for i, seg in enumerate(lines):
            speaker = diarization.speaker_at(seg.start, seg.end)
            segments.append(attrs.evolve(seg, id=f"seg-{i + 1:04d}", speaker=speaker, text=seg.text.strip()))
        ctx.progress(1.0, f"{len(segments)} segments, language {language}")
        return Transcript(
            language=language, segments=tuple(segments), language_probability=raw.language_probability
        )

    def _transcribe_chunks(
        self, ctx: StageContext, audio: AudioFile, chunks: list[tuple[SpeechRegion, ...]]
    ) -> Transcript:
        """Every chunk's transcript (from the unit cache when a previous run finished it), joined."""
        cache = ctx.units()
        base = {"backend": self.transcriber.fingerprint(), "audio": hash_file(audio.path)}
        language = ctx.request.source_language
        probability: float | None = None
        segments: list[TranscriptSegment] = []
        started, count = time.monotonic(), len(chunks)
        for index, chunk in enumerate(ctx.each(chunks, label="chunk", release_memory=True)):
            key = stable_hash({**base, "language": language, "regions": [(r.start, r.end) for r in chunk]})
            part = cache.get(key, Transcript)
            if part is None:
                label = f"chunk {index + 1}/{count}"
                report = ctx.reporter(started, label, offset=index / count, share=1 / count)
                part = self._transcribe(audio, chunk, language, report)
                cache.put(key, part)
            if language is None:
                # The first chunk's detection decides the language of the rest.
                language, probability = part.language, part.language_probability
            segments.extend(part.segments)
        if language is None:  # pragma: no cover - chunks is never empty here
            raise StageError(self.name, "no chunk was transcribed")
        return Transcript(language=language, segments=tuple(segments), language_probability=probability)

    def _transcribe(
        self,
        audio: AudioFile,
        chunk: Sequence[SpeechRegion],
        language: str | None,
        report: Callable[[float], None],
    ) -> Transcript:
        """One chunk; a `ReportingTranscriber` gets ``report`` and so stops inside the chunk on a cancel."""
        transcriber = self.transcriber.get()
        if isinstance(transcriber, ReportingTranscriber):
            return transcriber.transcribe_reporting(audio, chunk, language, report)
        return transcriber.transcribe(audio, chunk, language)

    def close(self) -> None:
        """Free the transcriber."""
        self.transcriber.close()
