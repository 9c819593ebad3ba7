"""Speech values that flow between stages: regions, turns, words, segments, translations, clips, timing."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import attrs

__all__ = [
    "FEMALE_PITCH_HZ",
    "ChunkDiarization",
    "Clip",
    "ClipTiming",
    "Diarization",
    "LineReview",
    "Review",
    "SegmentIssue",
    "SegmentStatus",
    "SpeakerProfile",
    "SpeakerTurn",
    "SpeechRegion",
    "Synthesis",
    "TimingPlan",
    "Transcript",
    "TranslationFallback",
    "TranscriptSegment",
    "TranslatedSegment",
    "TranslatedSentence",
    "Translation",
    "TranslatorUsed",
    "Voice",
    "VoiceActivity",
    "VoiceProfile",
    "Word",
]


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _ordered(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    start = getattr(instance, "start", 0.0)
    if value < start:
        raise ValueError(f"end {value} is before start {start}")


@attrs.frozen(slots=True)
class SpeechRegion:
    """A stretch of audio that holds speech, in seconds from the start of the media."""

    start: float = attrs.field(validator=_non_negative)
    end: float = attrs.field(validator=_ordered)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@attrs.frozen(slots=True)
class SpeakerTurn:
    """A stretch of audio attributed to one speaker (``SPEAKER_00``, ``SPEAKER_01``, ...)."""

    start: float = attrs.field(validator=_non_negative)
    end: float = attrs.field(validator=_ordered)
    speaker: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@attrs.frozen(slots=True)
class Word:
    """One recognised word with its timing and confidence (0-1)."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@attrs.frozen(slots=True)
class TranscriptSegment:
    """One line of speech: a sentence or phrase, by one speaker.

    Attributes:
        id: Stable identifier (``seg-0001``); edits in a dub project refer to it.
        start: Seconds.
        end: Seconds.
        text: What was said.
        speaker: Speaker label, from diarization.
        words: Word timings, when the transcriber gives them.
        confidence: Mean word probability (0-1), when known.
    """

    id: str
    start: float = attrs.field(validator=_non_negative)
    end: float = attrs.field(validator=_ordered)
    text: str
    speaker: str = "SPEAKER_00"
    words: tuple[Word, ...] = ()
    confidence: float | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@attrs.frozen(slots=True)
class Transcript:
    """The transcribe stage's output.

    Attributes:
        language: The source language (ISO 639-1), detected or given.
        segments: Lines in time order.
        language_probability: The detector's confidence, when it ran.
    """

    language: str
    segments: tuple[TranscriptSegment, ...] = ()
    language_probability: float | None = None

    @property
    def text(self) -> str:
        """The whole transcript as plain text."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def speakers(self) -> tuple[str, ...]:
        """Distinct speaker labels, in order of first appearance."""
        return tuple(dict.fromkeys(s.speaker for s in self.segments))


class SegmentStatus(str, Enum):
    """How a segment fared in a stage."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen(slots=True)
class SegmentIssue:
    """A segment that a stage could not process, and why (the rest of the dub goes on)."""

    segment_id: str
    stage: str
    message: str


@attrs.frozen(slots=True)
class TranslatedSegment:
    """A transcript segment in the target language.

    Attributes:
        segment_id: The source segment's id.
        text: The chosen translation.
        candidates: Alternatives, best first (n-best), the chosen one included.
        machine_text: What the translator produced, before any human edit.
        untranslated: Words the translator left in the source language.
        edited: Whether ``text`` comes from a human edit of the dub project.
    """

    segment_id: str
    text: str
    candidates: tuple[str, ...] = ()
    machine_text: str = ""
    untranslated: tuple[str, ...] = ()
    edited: bool = False

    def spoken(self, candidate: int) -> str:
        """The words of candidate ``candidate`` (0 = ``text``: the edit or the translator's best)."""
        if candidate <= 0 or candidate >= len(self.candidates):
            return self.text
        return self.candidates[candidate]


class TranslationFallback(str, Enum):
    """How a sentence was translated when translating it whole failed."""

    NONE = ""
    """Translated as one sentence."""
    PIECES = "pieces"
    """The translator failed on the sentence; its lines were translated one by one."""
    SOURCE = "source"
    """The translator failed on its lines too: the source text is kept, for a person to review."""


@attrs.frozen(slots=True)
class TranslatedSentence:
    """A sentence: consecutive lines of one speaker translated together, then split back into them.

    Attributes:
        id: ``seg-0003`` for a one-line sentence (the line's id), ``seg-0003..seg-0005`` for several.
        segment_ids: Its lines, in time order (their `TranslatedSegment` hold the pieces).
        text: The chosen translation (a human edit, or the translator's best).
        candidates: Alternatives, best first (n-best), the translator's best included.
        machine_text: What the translator produced, before any human edit.
        untranslated: Words the translator left in the source language.
        edited: Whether ``text`` comes from a human edit of the dub project.
        fallback: How it was translated when translating it whole failed.
    """

    id: str
    segment_ids: tuple[str, ...]
    text: str
    candidates: tuple[str, ...] = ()
    machine_text: str = ""
    untranslated: tuple[str, ...] = ()
    edited: bool = False
    fallback: TranslationFallback = TranslationFallback.NONE

    def spoken(self, candidate: int) -> str:
        """The words of candidate ``candidate`` (0 = ``text``: the edit or the translator's best)."""
        if candidate <= 0 or candidate >= len(self.candidates):
            return self.text
        return self.candidates[candidate]


@attrs.frozen(slots=True)
class TranslatorUsed:
    """The translator a translation came from (chosen by name, or by dubkit for the language pair).

    Attributes:
        name: Its registered name.
        version: Its distribution's version.
        options: Its options as canonical JSON.
        chosen: Whether dubkit chose it for the pair (no translator was named).
    """

    name: str
    version: str = ""
    options: str = "{}"
    chosen: bool = False


@attrs.frozen(slots=True)
class Translation:
    """The translate stage's output for one target language.

    Attributes:
        source_language: ISO 639-1.
        target_language: ISO 639-1.
        segments: One per transcript line: its piece of its sentence's translation.
        issues: Lines that could not be translated.
        sentences: The translation units (every line in exactly one), in time order; empty in artifacts
            written before sentences existed (then every line is its own sentence).
        translator: The translator used, when one was.
    """

    source_language: str
    target_language: str
    segments: tuple[TranslatedSegment, ...] = ()
    issues: tuple[SegmentIssue, ...] = ()
    sentences: tuple[TranslatedSentence, ...] = ()
    translator: TranslatorUsed | None = None

    def by_id(self) -> dict[str, TranslatedSegment]:
        """Translated segments keyed by segment id."""
        return {s.segment_id: s for s in self.segments}

    def sentence_units(self) -> tuple[TranslatedSentence, ...]:
        """The sentences; one per line when the artifact has none."""
        if self.sentences:
            return self.sentences
        return tuple(
            TranslatedSentence(
                id=s.segment_id,
                segment_ids=(s.segment_id,),
                text=s.text,
                candidates=s.candidates,
                machine_text=s.machine_text,
                untranslated=s.untranslated,
                edited=s.edited,
            )
            for s in self.segments
        )


#: Median F0 (Hz) from which a voice or a speaker counts as in the female range.
FEMALE_PITCH_HZ = 165.0


@attrs.frozen(slots=True)
class Voice:
    """A synthesizer voice.

    Only ``id``, ``language`` and ``rate`` change what is spoken; ``label``, ``gender`` and ``pitch``
    describe the voice, for people and for matching voices to speakers.

    Attributes:
        id: The backend's voice id (``es+m3`` for espeak-ng, ``jf_alpha`` or a blend such as
            ``jm_kumo:0.75+jf_alpha:0.25`` for Kokoro, a model path for MMS, ...).
        language: ISO 639-1 code.
        rate: Speaking rate relative to the voice's default (1.0 = default).
        label: A human-readable name.
        gender: ``female`` or ``male`` when the backend says, else ``None``.
        pitch: The voice's typical median F0 in Hz when known (measured or estimated), else ``None``.
    """

    id: str
    language: str
    rate: float = 1.0
    label: str = ""
    gender: str | None = None
    pitch: float | None = None

    @property
    def register(self) -> str | None:
        """``female`` or ``male``: the gender the backend gives, else the side of `FEMALE_PITCH_HZ`."""
        if self.gender in ("female", "male"):
            return self.gender
        if self.pitch is None:
            return None
        return "female" if self.pitch >= FEMALE_PITCH_HZ else "male"


@attrs.frozen(slots=True)
class SpeakerProfile:
    """What a diarized speaker sounds like, measured on the source audio.

    Attributes:
        speaker: The speaker label.
        seconds: Seconds of speech attributed to them.
        pitch: Median F0 in Hz over their voiced frames, or ``None`` when too little was voiced.
    """

    speaker: str
    seconds: float = 0.0
    pitch: float | None = None

    @property
    def register(self) -> str | None:
        """``female`` or ``male`` by the side of `FEMALE_PITCH_HZ` their pitch is on, or ``None``."""
        if self.pitch is None:
            return None
        return "female" if self.pitch >= FEMALE_PITCH_HZ else "male"


@attrs.frozen(slots=True)
class Clip:
    """One synthesised line.

    Attributes:
        segment_id: The segment it voices.
        path: WAV file.
        duration: Seconds.
        sample_rate: Hz.
        voice: The voice used (its ``rate`` is the synthesizer's speaking rate).
        text: The text spoken.
        candidate: Which translation candidate it speaks (0 = the translator's best or the human edit).
        synthesizer: The registered name of the synthesizer that voiced it (a fallback's, for a line
            the first choice could not say).
    """

    segment_id: str
    path: Path
    duration: float
    sample_rate: int
    voice: Voice
    text: str
    candidate: int = 0
    synthesizer: str = ""


@attrs.frozen(slots=True)
class Synthesis:
    """The synthesize stage's output: one clip per translated segment that could be voiced.

    Attributes:
        clips: The first-choice clip of every line (best candidate, the voice's own rate).
        voices: Speaker label -> voice.
        issues: Lines that could not be voiced.
        alternatives: Extra clips for lines too long for their slot: shorter translation candidates
            and faster speaking rates, for the timing solver to choose from.
        joined: For each sentence of several lines, its whole translation voiced as one clip (its
            ``segment_id`` is the sentence's id), which the fit stage may play across the sentence's
            pauses instead of the pieces.
        synthesizer: The registered name of the synthesizer that voiced the lines.
        fallbacks: Lines the synthesizer could not say, voiced by a fallback synthesizer (and why).
        profiles: Each speaker's measured pitch, which their voice was chosen by.
    """

    clips: tuple[Clip, ...] = ()
    voices: tuple[tuple[str, Voice], ...] = ()
    issues: tuple[SegmentIssue, ...] = ()
    alternatives: tuple[Clip, ...] = ()
    joined: tuple[Clip, ...] = ()
    synthesizer: str = ""
    fallbacks: tuple[SegmentIssue, ...] = ()
    profiles: tuple[SpeakerProfile, ...] = ()

    def options_for(self, segment_id: str) -> list[Clip]:
        """Every clip of one line (or joined sentence): the first choice first, then the alternatives."""
        return [c for c in (*self.clips, *self.joined, *self.alternatives) if c.segment_id == segment_id]

    def voice_map(self) -> dict[str, Voice]:
        """Speaker label -> voice."""
        return dict(self.voices)


@attrs.frozen(slots=True)
class ClipTiming:
    """Where and how one clip plays in the dubbed track.

    Attributes:
        segment_id: The segment.
        start: Seconds at which the clip starts playing.
        end: Seconds at which it stops (after stretching).
        stretch: Playback tempo factor (1.2 = 20% faster); 1.0 = unchanged.
        gain_db: Gain applied to the clip.
        slot_start: The source segment's start.
        slot_end: The source segment's end.
        candidate: The translation candidate chosen for the line.
        rate: The synthesizer speaking rate of the chosen clip.
        flags: Bounds the placement could not keep (``over_comfort``, ``at_cap``, ``overrun``).
        source_audio: The line plays its original speech here (a person chose to keep it), not a dubbed
            clip: ``start``/``end`` are its slot, unstretched.
    """

    segment_id: str
    start: float
    end: float
    stretch: float = 1.0
    gain_db: float = 0.0
    slot_start: float = 0.0
    slot_end: float = 0.0
    candidate: int = 0
    rate: float = 1.0
    flags: tuple[str, ...] = ()
    source_audio: bool = False

    @property
    def start_offset(self) -> float:
        """Seconds between the clip's start and its source segment's start."""
        return self.start - self.slot_start


@attrs.frozen(slots=True)
class TimingPlan:
    """The fit stage's output: every clip's placement, in time order."""

    timings: tuple[ClipTiming, ...] = ()

    def by_id(self) -> dict[str, ClipTiming]:
        """Timings keyed by segment id."""
        return {t.segment_id: t for t in self.timings}


@attrs.frozen(slots=True)
class VoiceActivity:
    """The vad stage's output: speech regions in time order."""

    regions: tuple[SpeechRegion, ...] = ()

    @property
    def speech_seconds(self) -> float:
        """Total seconds of speech."""
        return sum(r.duration for r in self.regions)


@attrs.frozen(slots=True)
class Diarization:
    """The diarize stage's output: speaker turns in time order."""

    turns: tuple[SpeakerTurn, ...] = ()

    @property
    def speakers(self) -> tuple[str, ...]:
        """Distinct speaker labels, in order of first appearance."""
        return tuple(dict.fromkeys(t.speaker for t in self.turns))

    def speaker_at(self, start: float, end: float, default: str = "SPEAKER_00") -> str:
        """The speaker with the most overlap with [start, end]; ``default`` when none overlaps."""
        best, best_overlap = default, 0.0
        totals: dict[str, float] = {}
        for turn in self.turns:
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > 0:
                totals[turn.speaker] = totals.get(turn.speaker, 0.0) + overlap
        for speaker, overlap in totals.items():
            if overlap > best_overlap:
                best, best_overlap = speaker, overlap
        return best


@attrs.frozen(slots=True)
class VoiceProfile:
    """What a diarizer heard of one speaker in one chunk, for linking speakers across chunks.

    Attributes:
        speaker: The speaker's label within its chunk.
        mean_embedding: The mean of the speaker's unit-length window embeddings (not normalised again:
            ``1 - a @ b`` of two profiles is the average cosine distance between their windows, the
            distance average-linkage clustering uses).
        windows: How many embedding windows the mean is over (its weight when profiles are merged).
    """

    speaker: str
    mean_embedding: tuple[float, ...]
    windows: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen(slots=True)
class ChunkDiarization:
    """One chunk's speaker turns (labels local to the chunk) and a voice profile per label."""

    turns: tuple[SpeakerTurn, ...] = ()
    voices: tuple[VoiceProfile, ...] = ()


@attrs.frozen(slots=True)
class LineReview:
    """One dubbed line heard back: what the transcriber understood and the word error rate."""

    segment_id: str
    heard: str
    wer: float


@attrs.frozen(slots=True)
class Review:
    """The review stage's output: every dubbed line transcribed back."""

    language: str
    lines: tuple[LineReview, ...] = ()

    def by_id(self) -> dict[str, LineReview]:
        """Reviews keyed by segment id."""
        return {line.segment_id: line for line in self.lines}
