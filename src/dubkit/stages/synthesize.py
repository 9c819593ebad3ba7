"""Stage 8, synthesize: voice every translated line, one distinct voice per speaker."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Synthesizer, supported_languages, synthesizer_voices
from dubkit.errors import UnknownLanguageError
from dubkit.models.speech import Clip, Synthesis, TranscriptSegment, TranslatedSegment, Translation, Voice
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import SYNTHESIS, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["AlternativeOptions", "SynthesizeStage", "assign_voices"]


#: Lines voiced at once when the synthesizer allows concurrent calls (its ``concurrent_calls``).
_MAX_WORKERS = 2


def _concurrent_calls(synthesizer: object) -> int:
    """How many ``synthesize`` calls a synthesizer takes at once: its ``concurrent_calls``, else 1.

    An optional attribute a backend sets when its calls share nothing (espeak-ng: a process each).
    """
    value = getattr(synthesizer, "concurrent_calls", 1)
    return value if isinstance(value, int) and value > 0 else 1


class _KeyLocks:
    """One lock per cache key, so that two lines with the same voice and text are voiced once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


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


@attrs.frozen
class _Line:
    """Something to voice: one translated line, or a whole sentence of several lines (``joined``)."""

    id: str
    text: str
    candidates: tuple[str, ...]
    edited: bool
    segment_ids: tuple[str, ...]
    joined: bool = False
    window: float | None = None


def _line_of(seg: TranslatedSegment) -> _Line:
    return _Line(seg.segment_id, seg.text, seg.candidates, seg.edited, (seg.segment_id,))


def _joined_lines(
    translation: Translation, windows: Mapping[str, float], starts: Mapping[str, float]
) -> list[_Line]:
    """Each sentence of two or more voiced lines, as one line saying the whole sentence.

    Its window runs from its first line's start to the next line's start (less the gap). A sentence with
    a line whose piece a person edited plays as its pieces: it gets no joined clip.
    """
    pieces = translation.by_id()
    out = []
    for sentence in translation.sentence_units():
        lines = [pieces[i] for i in sentence.segment_ids if i in pieces]
        spoken = [p for p in lines if p.text.strip()]
        if len(sentence.segment_ids) < 2 or len(spoken) < 2 or any(p.edited for p in lines):
            continue
        first, last = sentence.segment_ids[0], sentence.segment_ids[-1]
        window = starts[last] + windows[last] - starts[first] if last in windows and first in starts else None
        out.append(
            _Line(
                sentence.id,
                sentence.text,
                sentence.candidates,
                sentence.edited,
                sentence.segment_ids,
                joined=True,
                window=window,
            )
        )
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
    version = "2"
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
        """Synthesize every non-empty translated line (cached lines cost nothing).

        A sentence of several lines is also voiced whole (one clip across its pauses, which the fit
        stage may choose instead of the pieces).
        """
        transcript = inputs[TRANSCRIPT]
        translation = inputs[TRANSLATION]
        target = ctx.request.target_language
        offered = list(synthesizer_voices(self.synthesizer.instance, target)) or [
            Voice(id=target, language=target)
        ]
        voices = assign_voices(transcript.speakers, offered, dict(ctx.request.voice_edits))
        speaker_of = {s.id: s.speaker for s in transcript.segments}
        windows = _windows(transcript.segments, self.alternatives.min_gap)
        starts = {s.id: s.start for s in transcript.segments}
        todo = [_line_of(s) for s in translation.segments if s.text.strip()]
        todo += _joined_lines(translation, windows, starts)
        locks = _KeyLocks()

        def line(item: _Line) -> tuple[Clip | None, list[Clip]]:
            voice = voices.get(speaker_of.get(item.segment_ids[0], ""), offered[0])
            work = partial(self._clip, ctx, locks, item.id, item.text, voice=voice, candidate=0)
            clip = ctx.attempt(item.id, work, final=not item.joined)
            if clip is None:
                return None, []
            window = item.window if item.window is not None else windows.get(item.id, clip.duration)
            if clip.duration > window * self.alternatives.comfort:
                return clip, self._alternatives(ctx, locks, item, clip, window)
            return clip, []

        clips: list[Clip] = []
        joined: list[Clip] = []
        alternatives: list[Clip] = []
        workers = min(_MAX_WORKERS, _concurrent_calls(self.synthesizer.instance), max(1, len(todo)))
        # Lines are voiced ``workers`` at a time (each line with its alternatives on one thread) and
        # collected in order, so the result does not depend on which finishes first.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synthesize")
        try:
            futures = [pool.submit(line, item) for item in todo]
            for item, future in zip(todo, ctx.each(futures, label="line"), strict=True):
                clip, extra = future.result()
                if clip is not None:
                    (joined if item.joined else clips).append(clip)
                    alternatives += extra
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        # Issues in line order, as a one-at-a-time run records them.
        order = {item.id: index for index, item in enumerate(todo)}
        ctx.issues.sort(key=lambda issue: order.get(issue.segment_id, -1))
        return Synthesis(
            clips=tuple(clips),
            voices=tuple(voices.items()),
            issues=translation.issues + tuple(ctx.issues),
            alternatives=tuple(alternatives),
            joined=tuple(joined),
        )

    def _alternatives(
        self, ctx: StageContext, locks: _KeyLocks, item: _Line, first: Clip, window: float
    ) -> list[Clip]:
        """Shorter candidates first; then faster rates of the shortest text; stop once one is comfortable."""
        out: list[Clip] = []
        texts = (
            [(i, t) for i, t in enumerate(item.candidates) if i > 0 and t.strip()] if not item.edited else []
        )
        best = first
        for index, text in texts:
            clip = ctx.attempt(
                item.id,
                partial(self._clip, ctx, locks, item.id, text, voice=first.voice, candidate=index),
                final=not item.joined,
            )
            if clip is not None:
                out.append(clip)
                best = min(best, clip, key=lambda c: c.duration)
        if best.duration <= window * self.alternatives.comfort:
            return out
        for factor in self.alternatives.rates:
            voice = attrs.evolve(best.voice, rate=round(best.voice.rate * factor, 4))
            clip = ctx.attempt(
                item.id,
                partial(self._clip, ctx, locks, item.id, best.text, voice=voice, candidate=best.candidate),
                final=not item.joined,
            )
            if clip is not None:
                out.append(clip)
                if clip.duration <= window * self.alternatives.comfort:
                    break
        return out

    def _clip(
        self, ctx: StageContext, locks: _KeyLocks, segment_id: str, text: str, *, voice: Voice, candidate: int
    ) -> Clip:
        cache = ctx.units()
        key = stable_hash({"b": self.synthesizer.fingerprint(), "v": attrs.asdict(voice), "t": text})
        final = cache.path(key, ".wav")
        with locks.hold(key):
            meta = cache.get(key, _ClipMeta)
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
