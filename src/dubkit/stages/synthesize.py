"""Stage 8, synthesize: voice every translated line, one distinct voice per speaker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Synthesizer, supported_languages, synthesizer_voices
from dubkit.errors import UnknownLanguageError
from dubkit.models.speech import Clip, Synthesis, TranslatedSegment, Voice
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import SYNTHESIS, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["SynthesizeStage", "assign_voices"]


@attrs.frozen
class _ClipMeta:
    duration: float
    sample_rate: int


def assign_voices(
    speakers: Sequence[str], voices: Sequence[Voice], overrides: Mapping[str, Voice]
) -> dict[str, Voice]:
    """Give each speaker a voice: overrides first, then the synthesizer's voices in order (cycling)."""
    out: dict[str, Voice] = {}
    pool = list(voices)
    for i, speaker in enumerate(speakers):
        out[speaker] = overrides.get(speaker) or pool[i % len(pool)]
    return out


class SynthesizeStage(BaseStage[Synthesis]):
    """Synthesizes each line once: clips are cached by (voice, text), so an edit re-voices one line."""

    name = "synthesize"
    inputs = (TRANSCRIPT, TRANSLATION)
    output = SYNTHESIS

    def __init__(self, synthesizer: BackendBinding[Synthesizer]) -> None:
        self.synthesizer = synthesizer

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """Synthesizer identity, target language and voice overrides."""
        return {
            "backend": self.synthesizer.fingerprint(),
            "target": request.target_language,
            "voices": [[speaker, attrs.asdict(voice)] for speaker, voice in request.voice_edits],
        }

    def validate(self, request: RunRequest) -> None:
        """The synthesizer must speak the target language.

        Raises:
            UnknownLanguageError: it does not.
        """
        langs = supported_languages(self.synthesizer.instance)
        if langs is not None and request.target_language not in langs:
            raise UnknownLanguageError(request.target_language, list(langs), backend=self.synthesizer.name)

    def run(self, ctx: StageContext, inputs: Artifacts) -> Synthesis:
        """Synthesize every non-empty translated line (cached lines cost nothing)."""
        transcript = inputs[TRANSCRIPT]
        translation = inputs[TRANSLATION]
        target = ctx.request.target_language
        offered = list(synthesizer_voices(self.synthesizer.instance, target)) or [
            Voice(id=target, language=target)
        ]
        voices = assign_voices(transcript.speakers, offered, dict(ctx.request.voice_edits))
        speaker_of = {s.id: s.speaker for s in transcript.segments}
        clips: list[Clip] = []
        todo = [s for s in translation.segments if s.text.strip()]
        for seg in ctx.each(todo, label="line"):
            voice = voices.get(speaker_of.get(seg.segment_id, ""), offered[0])
            clip = ctx.attempt(seg.segment_id, partial(self._clip, ctx, seg, voice))
            if clip is not None:
                clips.append(clip)
        return Synthesis(
            clips=tuple(clips), voices=tuple(voices.items()), issues=translation.issues + tuple(ctx.issues)
        )

    def _clip(self, ctx: StageContext, seg: TranslatedSegment, voice: Voice) -> Clip:
        cache = ctx.units()
        key = stable_hash({"b": self.synthesizer.fingerprint(), "v": attrs.asdict(voice), "t": seg.text})
        meta = cache.get(key, _ClipMeta)
        final = cache.path(key, ".wav")
        if meta is None or not final.is_file():
            with cache.writing(key, ".wav") as tmp:
                audio = self.synthesizer.get().synthesize(seg.text, voice, tmp)
            meta = _ClipMeta(duration=audio.duration, sample_rate=audio.sample_rate)
            cache.put(key, meta)
        return Clip(
            segment_id=seg.segment_id,
            path=final,
            duration=meta.duration,
            sample_rate=meta.sample_rate,
            voice=voice,
            text=seg.text,
        )

    def close(self) -> None:
        """Free the synthesizer."""
        self.synthesizer.close()
