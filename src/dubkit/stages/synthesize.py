"""Stage 8, synthesize: voice every translated line, each speaker with a voice cast for how they sound.

The stage holds one or more synthesizers, first choice first (`dubkit.stages.voicing`). Named ones run
in that order; with ``choose`` (the ``auto`` synthesizer) the first that speaks the target language is
the first choice and the others that speak it follow. A line the first choice cannot say
(`dubkit.errors.UnspeakableTextError`: nothing speakable, not its language) is voiced by the next,
and flagged. Each speaker's voice is cast from their median pitch on the source audio
(`dubkit.stages.speaker_pitch`, `dubkit.stages.casting`); voices chosen in the dub project win.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Synthesizer, supported_languages
from dubkit.backends.wav import read_wav_mono
from dubkit.errors import DubkitError, UnknownLanguageError, UnspeakableTextError
from dubkit.media.pitch import median_pitch
from dubkit.models.speech import (
    Clip,
    SegmentIssue,
    Synthesis,
    TranscriptSegment,
    TranslatedSegment,
    Translation,
    Voice,
)
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SYNTHESIS, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.speaker_pitch import speaker_profiles
from dubkit.stages.voicing import CALIBRATION_TEXT, VoiceChain

__all__ = ["AlternativeOptions", "SynthesizeStage"]


def _max_workers() -> int:
    """Lines voiced at once at most: one per core (the synthesizer's ``concurrent_calls`` may say fewer)."""
    return max(1, min(8, os.cpu_count() or 1))


def _concurrent_calls(synthesizer: object) -> int:
    """How many ``synthesize`` calls a synthesizer takes at once: its ``concurrent_calls``, else 1.

    An optional attribute a backend sets when its calls share nothing (espeak-ng: a process each;
    the ONNX voices: one session runs calls side by side).
    """
    value = getattr(synthesizer, "concurrent_calls", 1)
    return value if isinstance(value, int) and value > 0 else 1


def _speaks(binding: BackendBinding[Synthesizer], language: str) -> bool:
    try:
        languages = supported_languages(binding.instance)
    except DubkitError:
        return False
    return languages is None or language in languages


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


@attrs.frozen
class _PitchMeta:
    hz: float | None


@attrs.define
class _Tally:
    """Speech voiced in this run (cache hits excluded) and lines voiced by a fallback, thread-safe."""

    voiced_seconds: float = 0.0
    fallbacks: list[SegmentIssue] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def voiced(self, seconds: float) -> None:
        with self.lock:
            self.voiced_seconds += seconds

    def fell_back(self, issue: SegmentIssue) -> None:
        with self.lock:
            self.fallbacks.append(issue)


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


def _cpu_seconds() -> float:
    """Processor seconds of this process and its finished children (espeak-ng runs as a child)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@attrs.frozen
class AlternativeOptions:
    """When and how the stage voices alternatives for lines too long for their slot.

    Attributes:
        comfort: A line whose clip needs more than this tempo factor to fit before the next line gets
            alternatives (shorter translation candidates, then faster speaking rates).
        rates: Speaking rates that may be tried, relative to the voice's own: the slowest expected to
            fit (a clip's length goes as 1 / rate) is voiced, and faster ones only while none fits.
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

    Args:
        synthesizers: One synthesizer, or several, first choice first (fallbacks after).
        alternatives: When to voice alternatives for long lines.
        choose: The first synthesizer that speaks the target language is the first choice (the ``auto``
            synthesizer); without it, the first one must speak it.
    """

    name = "synthesize"
    version = "2"
    inputs = (TRANSCRIPT, TRANSLATION, AUDIO)
    output = SYNTHESIS

    def __init__(
        self,
        synthesizers: BackendBinding[Synthesizer] | Sequence[BackendBinding[Synthesizer]],
        alternatives: AlternativeOptions | None = None,
        *,
        choose: bool = False,
    ) -> None:
        chosen = (synthesizers,) if isinstance(synthesizers, BackendBinding) else tuple(synthesizers)
        if not chosen:
            raise ValueError("the synthesize stage needs a synthesizer")
        self.synthesizers: tuple[BackendBinding[Synthesizer], ...] = chosen
        self.alternatives = alternatives or AlternativeOptions()
        self.choose = choose

    @property
    def synthesizer(self) -> BackendBinding[Synthesizer]:
        """The first synthesizer (the first choice unless ``choose``)."""
        return self.synthesizers[0]

    def chain(self, language: str) -> tuple[BackendBinding[Synthesizer], ...]:
        """The synthesizers that voice ``language``: the first choice, then the fallbacks that speak it.

        Raises:
            UnknownLanguageError: the first synthesizer (or, with ``choose``, every one) lacks ``language``.
        """
        first = self.synthesizers[0]
        if not self.choose and not _speaks(first, language):
            langs = supported_languages(first.instance) or ()
            raise UnknownLanguageError(language, sorted(langs), backend=first.name)
        chain = tuple(b for b in self.synthesizers if b is first or _speaks(b, language))
        chain = chain if not self.choose else tuple(b for b in chain if _speaks(b, language))
        if not chain:
            known: set[str] = set()
            for binding in self.synthesizers:
                known |= set(supported_languages(binding.instance) or ())
            names = " / ".join(b.name for b in self.synthesizers)
            raise UnknownLanguageError(language, sorted(known), backend=names)
        return chain

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The synthesizers that voice the target language, target language and voice overrides."""
        try:
            chain = self.chain(request.target_language)
        except UnknownLanguageError:
            chain = self.synthesizers
        return {
            "backend": chain[0].fingerprint(),
            "fallbacks": [b.fingerprint() for b in chain[1:]],
            "alternatives": attrs.asdict(self.alternatives),
            "target": request.target_language,
            "voices": [[speaker, _voice_key(voice)] for speaker, voice in request.voice_edits],
        }

    def validate(self, request: RunRequest) -> None:
        """A synthesizer must speak the target language (the first one, unless ``choose``).

        Raises:
            UnknownLanguageError: none does.
        """
        self.chain(request.target_language)

    def run(self, ctx: StageContext, inputs: Artifacts) -> Synthesis:
        """Cast a voice per speaker, then voice every non-empty translated line (cached ones cost nothing).

        A sentence of several lines is also voiced whole (one clip across its pauses, which the fit
        stage may choose instead of the pieces).
        """
        transcript = inputs[TRANSCRIPT]
        translation = inputs[TRANSLATION]
        audio = inputs.get(AUDIO)
        target = ctx.request.target_language
        voicer = _LineVoicer(ctx, self.alternatives, self.name)
        profiles = speaker_profiles(audio.analysis if audio is not None else None, transcript.segments)
        chain = VoiceChain(
            self.chain(target), target, profiles, dict(ctx.request.voice_edits), voicer.measure_pitch
        )
        voices = chain.voices(0)
        speaker_of = {s.id: s.speaker for s in transcript.segments}
        windows = _windows(transcript.segments, self.alternatives.min_gap)
        starts = {s.id: s.start for s in transcript.segments}
        todo = [_line_of(s) for s in translation.segments if s.text.strip()]
        todo += _joined_lines(translation, windows, starts)

        def line(item: _Line) -> tuple[Clip | None, list[Clip]]:
            speaker = speaker_of.get(item.segment_ids[0], "")
            clip = ctx.attempt(
                item.id, partial(voicer.first_clip, chain, item, speaker), final=not item.joined
            )
            if clip is None:
                return None, []
            window = item.window if item.window is not None else windows.get(item.id, clip.duration)
            if clip.duration > window * self.alternatives.comfort:
                return clip, voicer.alternatives(chain, item, clip, window)
            return clip, []

        clips: list[Clip] = []
        joined: list[Clip] = []
        alternatives: list[Clip] = []
        workers = min(_max_workers(), _concurrent_calls(chain.primary.instance), max(1, len(todo)))
        cpu_before = _cpu_seconds()
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
        cpu = _cpu_seconds() - cpu_before
        # Issues in line order, as a one-at-a-time run records them.
        order = {item.id: index for index, item in enumerate(todo)}
        ctx.issues.sort(key=lambda issue: order.get(issue.segment_id, -1))
        tally = voicer.tally
        # Cost figures vary from run to run: they go to the run's report, not into the artifact.
        ctx.measure("cpu_seconds", round(cpu, 3) if tally.voiced_seconds else 0.0)
        ctx.measure("speech_seconds", round(tally.voiced_seconds, 3))
        return Synthesis(
            clips=tuple(clips),
            voices=tuple(voices.items()),
            issues=translation.issues + tuple(ctx.issues),
            alternatives=tuple(alternatives),
            joined=tuple(joined),
            synthesizer=chain.primary.name,
            fallbacks=tuple(sorted(tally.fallbacks, key=lambda issue: order.get(issue.segment_id, -1))),
            profiles=chain.profiles,
        )

    def close(self) -> None:
        """Free the synthesizers."""
        for binding in self.synthesizers:
            binding.close()


class _LineVoicer:
    """Voices the lines of one run: each clip once (cached by synthesizer, voice and text)."""

    def __init__(self, ctx: StageContext, options: AlternativeOptions, stage: str) -> None:
        self.ctx = ctx
        self.options = options
        self.stage = stage
        self.locks = _KeyLocks()
        self.tally = _Tally()

    def first_clip(self, chain: VoiceChain, item: _Line, speaker: str) -> Clip:
        """The line in its speaker's voice, by the first synthesizer of ``chain`` that can say it.

        Raises:
            UnspeakableTextError: none of them can (the first one's refusal).
        """
        refusals: list[UnspeakableTextError] = []
        for index, binding in enumerate(chain.bindings):
            voice = chain.voice(index, speaker)
            try:
                clip = self.clip(binding, item.id, item.text, voice=voice, candidate=0)
            except UnspeakableTextError as exc:
                refusals.append(exc)
                continue
            if refusals:
                why = "; ".join(str(r) for r in refusals)
                self.tally.fell_back(SegmentIssue(item.id, self.stage, f"{why}; voiced by {binding.name}"))
            return clip
        raise refusals[0]

    def alternatives(self, chain: VoiceChain, item: _Line, first: Clip, window: float) -> list[Clip]:
        """Shorter candidates first; then faster rates of the shortest text; stop once one is comfortable.

        They are voiced by the synthesizer and voice of ``first``.
        """
        binding = chain.bindings[chain.index_of(first.synthesizer)]
        comfort = window * self.options.comfort

        def voiced(text: str, voice: Voice, candidate: int) -> Clip | None:
            try:
                return self.clip(binding, item.id, text, voice=voice, candidate=candidate)
            except UnspeakableTextError:
                return None  # an alternative the voice cannot say is no alternative

        out: list[Clip] = []
        texts = (
            [(i, t) for i, t in enumerate(item.candidates) if i > 0 and t.strip()] if not item.edited else []
        )
        best = first
        for index, text in texts:
            clip = self.ctx.attempt(item.id, partial(voiced, text, first.voice, index), final=not item.joined)
            if clip is not None:
                out.append(clip)
                best = min(best, clip, key=lambda c: c.duration)
        if best.duration <= comfort:
            return out
        # A clip's length goes as 1 / rate: start at the first rate expected to fit (the fastest when
        # none is), so a neural voice does not spend a clip on a rate that cannot be enough.
        rates = sorted(self.options.rates)
        start = next((i for i, r in enumerate(rates) if best.duration / r <= comfort), len(rates) - 1)
        for factor in rates[start:]:
            voice = attrs.evolve(best.voice, rate=round(best.voice.rate * factor, 4))
            clip = self.ctx.attempt(
                item.id, partial(voiced, best.text, voice, best.candidate), final=not item.joined
            )
            if clip is not None:
                out.append(clip)
                if clip.duration <= comfort:
                    break
        return out

    def clip(
        self,
        binding: BackendBinding[Synthesizer],
        segment_id: str,
        text: str,
        *,
        voice: Voice,
        candidate: int,
    ) -> Clip:
        """One clip, voiced unless the unit cache holds it."""
        cache = self.ctx.units()
        key = stable_hash({"b": binding.fingerprint(), "v": _voice_key(voice), "t": text})
        final = cache.path(key, ".wav")
        with self.locks.hold(key):
            meta = cache.get(key, _ClipMeta)
            if meta is None or not final.is_file():
                with cache.writing(key, ".wav") as tmp:
                    audio = binding.get().synthesize(text, voice, tmp)
                meta = _ClipMeta(duration=audio.duration, sample_rate=audio.sample_rate)
                cache.put(key, meta)
                self.tally.voiced(meta.duration)
        return Clip(
            segment_id=segment_id,
            path=final,
            duration=meta.duration,
            sample_rate=meta.sample_rate,
            voice=voice,
            text=text,
            candidate=candidate,
            synthesizer=binding.name,
        )

    def measure_pitch(self, binding: BackendBinding[Synthesizer], voice: Voice) -> float | None:
        """A voice's median pitch, measured once on `CALIBRATION_TEXT` (kept in the unit cache)."""
        cache = self.ctx.units()
        key = stable_hash({"pitch": binding.fingerprint(), "v": _voice_key(voice), "t": CALIBRATION_TEXT})
        known = cache.get(key, _PitchMeta)
        if known is not None:
            return known.hz
        path = self.ctx.work_dir / f"pitch-{key[:16]}.wav"
        try:
            binding.get().synthesize(CALIBRATION_TEXT, voice, path)
            rate, samples = read_wav_mono(path)
        finally:
            path.unlink(missing_ok=True)
        hz = median_pitch(samples, rate)
        cache.put(key, _PitchMeta(round(hz, 1) if hz is not None else None))
        return hz


def _voice_key(voice: Voice) -> dict[str, object]:
    """What of a voice changes the audio: its id, language and rate (not its label or description)."""
    return {"id": voice.id, "language": voice.language, "rate": voice.rate}
