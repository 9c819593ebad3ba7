"""The JSON bodies of the line editor's API (pydantic), so the OpenAPI schema says what is sent."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dubkit.models.project_edits import MAX_LINE_CHARS, MAX_SENTENCE_CHARS

__all__ = [
    "EditLimits",
    "LineAudioLinks",
    "LineChangeIn",
    "LineOut",
    "LineQualityOut",
    "LineTimingOut",
    "SegmentsOut",
    "SentenceOut",
    "SpeakerOut",
    "VoiceOut",
]

# A body longer than this is refused by validation before the editor reads it (the documented limits
# are checked with a message of their own).
_HARD_LIMIT = 8 * MAX_SENTENCE_CHARS

Pending = Literal["translation", "sentence_translation", "voice", "keep_original"]


class LineChangeIn(BaseModel):
    """A change to one line; send at least one field. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    translation: str | None = Field(
        default=None,
        max_length=_HARD_LIMIT,
        description=(
            f"The line's new translation, at most {MAX_LINE_CHARS} characters of plain text (no control "
            "characters). For a line of a longer sentence it is this line's piece alone; the sentence then "
            "plays as its pieces. Empty: the line says nothing."
        ),
    )
    sentence_translation: str | None = Field(
        default=None,
        max_length=_HARD_LIMIT,
        description=(
            f"The new translation of the whole sentence the line belongs to (at most {MAX_SENTENCE_CHARS} "
            "characters): the re-dub cuts it into its lines' pieces again, dropping their own edits."
        ),
    )
    voice: str | None = Field(
        default=None,
        max_length=200,
        description="A voice id from `voices`: the voice of every line of this line's speaker.",
    )
    keep_original: bool | None = Field(
        default=None, description="Play the line's original speech instead of a dubbed line."
    )


class LineTimingOut(BaseModel):
    """Where the dubbed line plays in the current result."""

    start: float
    end: float
    stretch: float
    candidate: int = Field(description="The translation candidate spoken (0: the translation).")
    rate: float = Field(description="The synthesizer's speaking rate.")
    spoken: str = Field(description="What is said (a shorter candidate when one was chosen to fit).")
    joined: bool = Field(
        description="The line plays inside its sentence's one clip; the times are the clip's."
    )


class LineQualityOut(BaseModel):
    """The line's quality measures in the current result."""

    stretch: float | None
    start_offset: float | None
    overlap: float
    back_wer: float | None = Field(description="Word error rate of the dub transcribed back, when reviewed.")
    untranslated_words: list[str]
    flags: list[str] = Field(description="The bounds the line is outside of (to review).")


class LineAudioLinks(BaseModel):
    """Short WAV clips of the line, to listen to."""

    source: str = Field(description="The original speech.")
    dub: str = Field(description="The dubbed line in the current result.")


class LineOut(BaseModel):
    """One line of the dub, as the next re-dub would make it (pending changes applied)."""

    id: str
    index: int = Field(description="Its position, from 1.")
    start: float
    end: float
    speaker: str
    voice: str | None = Field(description="Its speaker's voice id.")
    source_text: str
    translation: str = Field(
        description="Its translation (for a line of a re-split sentence, a preview of its new piece)."
    )
    machine_translation: str
    candidates: list[str] = Field(
        description="Translations to pick from (for a line of a longer sentence: its piece)."
    )
    keep_original: bool
    sentence: str | None = Field(description="The id of the sentence it belongs to.")
    edited: bool = Field(description="Its translation differs from the machine's.")
    pending: list[Pending] = Field(description="What changed since the current result (not re-dubbed yet).")
    timing: LineTimingOut | None
    quality: LineQualityOut
    status: Literal["ok", "failed", "skipped"]
    error: str | None
    audio: LineAudioLinks


class SentenceOut(BaseModel):
    """Consecutive lines of one speaker translated as one sentence."""

    id: str
    segments: list[str]
    translation: str
    machine_translation: str
    candidates: list[str]
    layout: Literal["pieces", "joined"] = Field(description="Played as its pieces, or as one clip.")
    edited: bool
    pending: bool = Field(description="Its translation changed since the current result.")


class VoiceOut(BaseModel):
    """A voice the job's synthesizer offers for the target language."""

    id: str
    label: str


class SpeakerOut(BaseModel):
    """A speaker and the voice that dubs them."""

    id: str
    voice: str | None
    pending: bool = Field(description="The voice changed since the current result.")


class EditLimits(BaseModel):
    """The longest texts an edit may send, in characters."""

    translation: int = MAX_LINE_CHARS
    sentence_translation: int = MAX_SENTENCE_CHARS


class SegmentsOut(BaseModel):
    """The lines of a job's current result with the changes not re-dubbed yet (send its ETag to edit)."""

    job_id: str
    result_version: int = Field(description="The result version the lines are from (1: the first dub).")
    source_language: str
    target_language: str
    segments: list[LineOut]
    sentences: list[SentenceOut] = Field(description="Sentences of two or more lines.")
    speakers: list[SpeakerOut]
    voices: list[VoiceOut] = Field(
        description="The voices a speaker may get (empty: the synthesizer lists none)."
    )
    pending_segments: list[str] = Field(description="The lines the next re-dub changes.")
    limits: EditLimits = Field(default_factory=EditLimits)
    redub: str = Field(description="Where to POST to re-dub the pending changes.")
