"""Stage 8, synthesize: voice every translated line, one distinct voice per speaker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Synthesizer, supported_languages, synthesizer_voices
from dubkit.errors import UnknownLanguageError
from dubkit.models.speech import Clip, Synthesis, TranscriptSegment, TranslatedSegment, Voice
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import SYNTHESIS, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["AlternativeOptions", "SynthesizeStage", "assign_voices"]


@attrs.frozen
class _ClipMeta:
    duration: float
    sample_rate: int


def _windows(segments: Sequence[TranscriptSegment], min_gap: float) -> dict[str, float]:
    """Seconds each line has before the next line starts (its own length for the last line)."""
    ordered = sorted(segments, key=lambda s: s.start)
    out = {}
    for i, seg in enumerate(ordered):
        room = ordered[i + 1].start - seg.start - min_gap if i + 1 < len(ordered) else seg.duration
        out[seg.id] = max(seg.duration, room, 1e-3)
    return out


def assign_voices(
    speakers: Sequence[str], voices: Sequence[Voice], overrides: Mapping[str, Voice]
) -> dict[str, Voice]:
    """Give each speaker a voice: overrides first, then the synthesizer's voices in order (cycling)."""
    out: dict[str, Voice] = {}
    pool = list(voices)
    for i, speaker in enumerate(speakers):
        out[speaker] = overrides.get(speaker) or pool[i % len(pool)]
    return out


@attrs.frozen
class AlternativeOptions:
    """When and how the stage voices alternatives for lines too long for their slot.

    Attributes:
        comfort: A line whose clip needs more than this tempo factor to fit before the next line gets
            alternatives (shorter translation candidates, then faster speaking rates).
        rates: Speaking rates tried, relative to the voice's own.
        min_gap: Silence kept before the next line when judging the fit, seconds.
    """

    comfort: float = 1.2
    rates: tuple[float, ...] = (1.1, 1.2)
    min_gap: float = 0.08


class SynthesizeStage(BaseStage[Synthesis]):
    """Synthesizes each line once: clips are cached by (voice, text), so an edit re-voices one line.

    Lines too long for their slot are also voiced with the translator's other candidates and at faster
    speaking rates, so that the timing solver can prefer a shorter line or a faster voice over
    time-stretching.
    """

    name = "synthesize"
    inputs = (TRANSCRIPT, TRANSLATION)
    output = SYNTHESIS

    def __init__(
        self, synthesizer: BackendBinding[Synthesizer], alternatives: AlternativeOptions | None = None
    ) -> None:
        self.synthesizer = synthesizer
        self.alternatives = alternatives or AlternativeOptions()

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """Synthesizer identity, target language and voice overrides."""
        return {
            "backend": self.synthesizer.fingerprint(),
            "alternatives": attrs.asdict(self.alternatives),
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
        windows = _windows(transcript.segments, self.alternatives.min_gap)
        clips: list[Clip] = []
        alternatives: list[Clip] = []
        todo = [s for s in translation.segments if s.text.strip()]
        for seg in ctx.each(todo, label="line"):
            voice = voices.get(speaker_of.get(seg.segment_id, ""), offered[0])
            clip = ctx.attempt(seg.segment_id, partial(self._clip, ctx, seg.segment_id, seg.text, voice, 0))
            if clip is None:
                continue
            clips.append(clip)
            window = windows.get(seg.segment_id, clip.duration)
            if clip.duration > window * self.alternatives.comfort:
                alternatives += self._alternatives(ctx, seg, clip, window)
        return Synthesis(
            clips=tuple(clips),
            voices=tuple(voices.items()),
            issues=translation.issues + tuple(ctx.issues),
            alternatives=tuple(alternatives),
        )

    def _alternatives(
        self, ctx: StageContext, seg: TranslatedSegment, first: Clip, window: float
    ) -> list[Clip]:
        """Shorter candidates first; then faster rates of the shortest text; stop once one is comfortable."""
        out: list[Clip] = []
        texts = (
            [(i, t) for i, t in enumerate(seg.candidates) if i > 0 and t.strip()] if not seg.edited else []
        )
        best = first
        for index, text in texts:
            clip = ctx.attempt(
                seg.segment_id, partial(self._clip, ctx, seg.segment_id, text, first.voice, index)
            )
            if clip is not None:
                out.append(clip)
                best = min(best, clip, key=lambda c: c.duration)
        if best.duration <= window * self.alternatives.comfort:
            return out
        for factor in self.alternatives.rates:
            voice = attrs.evolve(best.voice, rate=round(best.voice.rate * factor, 4))
            clip = ctx.attempt(
                seg.segment_id, partial(self._clip, ctx, seg.segment_id, best.text, voice, best.candidate)
            )
            if clip is not None:
                out.append(clip)
                if clip.duration <= window * self.alternatives.comfort:
                    break
        return out

    def _clip(self, ctx: StageContext, segment_id: str, text: str, voice: Voice, candidate: int) -> Clip:
        cache = ctx.units()
        key = stable_hash({"b": self.synthesizer.fingerprint(), "v": attrs.asdict(voice), "t": text})
        meta = cache.get(key, _ClipMeta)
        final = cache.path(key, ".wav")
        if meta is None or not final.is_file():
            with cache.writing(key, ".wav") as tmp:
                audio = self.synthesizer.get().synthesize(text, voice, tmp)
            meta = _ClipMeta(duration=audio.duration, sample_rate=audio.sample_rate)
            cache.put(key, meta)
        return Clip(
            segment_id=segment_id,
            path=final,
            duration=meta.duration,
            sample_rate=meta.sample_rate,
            voice=voice,
            text=text,
            candidate=candidate,
        )

    def close(self) -> None:
        """Free the synthesizer."""
        self.synthesizer.close()
