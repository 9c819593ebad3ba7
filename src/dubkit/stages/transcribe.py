"""Stage 6, transcribe: speech regions to timed text, each line attributed to a speaker."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Transcriber, supported_languages
from dubkit.errors import UnknownLanguageError
from dubkit.models.languages import get_language
from dubkit.models.speech import SpeechRegion, Transcript
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEAKERS, SPEECH, TRANSCRIPT
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["TranscribeStage"]


class TranscribeStage(BaseStage[Transcript]):
    """Transcribes speaker turns (or speech regions) and numbers the segments ``seg-0001``..."""

    name = "transcribe"
    inputs = (AUDIO, SPEECH, SPEAKERS)
    output = TRANSCRIPT

    def __init__(self, transcriber: BackendBinding[Transcriber]) -> None:
        self.transcriber = transcriber

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
        """Transcribe and attribute every segment to the speaker who talks most during it."""
        speech = inputs[SPEECH]
        diarization = inputs[SPEAKERS]
        if not speech.regions:
            return Transcript(language=ctx.request.source_language or "und")
        regions = (
            tuple(SpeechRegion(t.start, t.end) for t in diarization.turns)
            if diarization.turns
            else speech.regions
        )
        ctx.progress(0.0, f"{len(regions)} regions")
        raw = self.transcriber.get().transcribe(inputs[AUDIO].analysis, regions, ctx.request.source_language)
        ctx.check_cancelled()
        language = raw.language
        with contextlib.suppress(UnknownLanguageError):
            language = get_language(language).code
        segments = []
        for i, seg in enumerate(sorted((s for s in raw.segments if s.text.strip()), key=lambda s: s.start)):
            speaker = diarization.speaker_at(seg.start, seg.end)
            segments.append(attrs.evolve(seg, id=f"seg-{i + 1:04d}", speaker=speaker, text=seg.text.strip()))
        ctx.progress(1.0, f"{len(segments)} segments, language {language}")
        return Transcript(
            language=language, segments=tuple(segments), language_probability=raw.language_probability
        )

    def close(self) -> None:
        """Free the transcriber."""
        self.transcriber.close()
