"""Edits to a dub project that a re-dub has not applied yet: what a line editor collects between re-dubs.

`ProjectEdits` holds only what differs from the project: a line's translation, a sentence's translation,
a speaker's voice, a line kept in its original speech. `apply_change` checks one change against the
project and returns the new edits (nothing is changed when it raises); `edited_project` is the project a
re-dub runs (`dubkit.pipeline.Pipeline.redub`); `affected_lines` says which lines that re-dub will change.

How an edit touches a sentence of several lines (consecutive lines of one speaker translated as one
text, `dubkit.models.project.ProjectSentence`):

* a line's ``translation`` is that line's piece alone; the sentence then plays as its pieces (never as
  one clip across its pauses), as in the pipeline;
* a sentence's ``sentence_translation`` replaces the whole sentence: the re-dub cuts it into its lines'
  pieces again, as ``dubkit redub`` does for an edited sentence in a project file. Its lines' own
  edits are dropped (pending ones and those of earlier re-dubs), so every piece comes from the new text;
  a line edited after that overrides its piece of the new split.

For a sentence of one line the two are the same edit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from dubkit.errors import ConfigError, SegmentNotFoundError
from dubkit.models.project import DubProject, ProjectSentence, ProjectVoice
from dubkit.models.speech import Voice

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_SENTENCE_CHARS",
    "LineChange",
    "ProjectEdits",
    "affected_lines",
    "apply_change",
    "check_text",
    "edited_project",
    "prune_edits",
]

MAX_LINE_CHARS = 500
"""The longest translation of one line, in characters (about 30 s of speech)."""

MAX_SENTENCE_CHARS = 2000
"""The longest translation of a whole sentence, in characters."""

# Bidirectional embedding, override and isolate controls: invisible, and they reorder what follows.
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectEdits(_Model):
    """Changes to a dub project not applied yet, each different from the project as it is.

    Attributes:
        translations: Line (segment) id -> its new translation (for a line of a longer sentence, its piece).
        sentence_translations: Sentence id -> the whole sentence's new translation (sentences of several
            lines; a one-line sentence is edited through ``translations``).
        voices: Speaker id -> the id of the synthesizer voice that should speak their lines.
        keep_original: Line id -> whether it plays its original speech instead of a dubbed line.
    """

    translations: dict[str, str] = Field(default_factory=dict)
    sentence_translations: dict[str, str] = Field(default_factory=dict)
    voices: dict[str, str] = Field(default_factory=dict)
    keep_original: dict[str, bool] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether nothing is pending."""
        return not (self.translations or self.sentence_translations or self.voices or self.keep_original)


class LineChange(_Model):
    """One change to one line: any of its fields (at least one).

    Attributes:
        translation: The line's new translation (its piece, for a line of a longer sentence); empty: the
            line says nothing.
        sentence_translation: The new translation of the whole sentence the line belongs to.
        voice: The voice id for the line's speaker (all of that speaker's lines).
        keep_original: Play the line's original speech instead of a dubbed line.
    """

    translation: str | None = None
    sentence_translation: str | None = None
    voice: str | None = None
    keep_original: bool | None = None


def check_text(text: str, *, field: str, limit: int) -> str:
    """A translation as it will be kept: NFC-normalised and stripped; refused when it cannot be spoken.

    Raises:
        ConfigError: a control character, a line or paragraph separator, a bidirectional control, or more
            than ``limit`` characters (the error says which and where).
    """
    clean = unicodedata.normalize("NFC", text).strip()
    for position, char in enumerate(clean):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES or char in _BIDI_CONTROLS:
            raise ConfigError(
                f"{field} has the control character U+{ord(char):04X} at position {position + 1}",
                field=field,
                hint="write the translation as one line of plain text, without control characters",
            )
    if len(clean) > limit:
        raise ConfigError(
            f"{field} is {len(clean)} characters long; the limit is {limit}",
            field=field,
            hint=f"shorten it to at most {limit} characters (split a long sentence between its lines)",
        )
    return clean


def _sentence(project: DubProject, segment_id: str) -> ProjectSentence | None:
    sentence_id = next((s.sentence for s in project.segments if s.id == segment_id), None)
    return next((s for s in project.sentences if s.id == sentence_id), None)


def apply_change(
    project: DubProject, edits: ProjectEdits, segment_id: str, change: LineChange, voices: Sequence[Voice]
) -> ProjectEdits:
    """``edits`` with ``change`` to line ``segment_id``; ``edits`` itself is left as it was.

    Args:
        project: The project as it is (the last result).
        edits: The changes pending so far.
        segment_id: The line changed.
        change: What changes.
        voices: The voices the job's synthesizer offers for the target language (``voice`` must be one).

    Raises:
        SegmentNotFoundError: the project has no line ``segment_id``.
        ConfigError: an empty change, a translation that cannot be spoken (see `check_text`), a sentence
            translation for a line with no sentence, or a voice the synthesizer does not offer.
    """
    segment = next((s for s in project.segments if s.id == segment_id), None)
    if segment is None:
        raise SegmentNotFoundError(segment_id)
    if change.model_fields_set == set() or all(
        getattr(change, name) is None for name in LineChange.model_fields
    ):
        raise ConfigError(
            "the change is empty",
            field="body",
            hint="send at least one of translation, sentence_translation, voice, keep_original",
        )
    new = edits.model_copy(deep=True)
    sentence = _sentence(project, segment_id)
    if change.sentence_translation is not None:
        text = check_text(change.sentence_translation, field="sentence_translation", limit=MAX_SENTENCE_CHARS)
        if sentence is None:
            raise ConfigError(f"line {segment_id!r} belongs to no sentence", field="sentence_translation")
        if len(sentence.segments) == 1:
            new.translations[segment_id] = text
        else:
            new.sentence_translations[sentence.id] = text
            for member in sentence.segments:  # the new text is split into its lines again
                new.translations.pop(member, None)
    if change.translation is not None:
        new.translations[segment_id] = check_text(
            change.translation, field="translation", limit=MAX_LINE_CHARS
        )
    if change.voice is not None:
        offered = {v.id for v in voices}
        if change.voice not in offered:
            shown = ", ".join(sorted(offered)[:40]) or "none"
            raise ConfigError(
                f"voice {change.voice!r} is not a voice of the synthesizer for {project.target_language!r}",
                field="voice",
                hint=f"choose one of: {shown}",
            )
        new.voices[segment.speaker] = change.voice
    if change.keep_original is not None:
        new.keep_original[segment_id] = change.keep_original
    return prune_edits(project, new)


def prune_edits(project: DubProject, edits: ProjectEdits) -> ProjectEdits:
    """``edits`` without what the project already says (an edit a re-dub applied, or one set back).

    Entries naming lines, sentences or speakers the project does not have are dropped too.
    """
    segments = {s.id: s for s in project.segments}
    sentences = {s.id: s for s in project.sentences}
    voices = {s.id: (s.voice.id if s.voice is not None else None) for s in project.speakers}
    translations = {}
    for i, text in edits.translations.items():
        segment = segments.get(i)
        if segment is None:
            continue
        # A line of a sentence that is being re-split keeps its edit: it overrides its new piece.
        if text != segment.translation or _sentence_reset(edits, sentences.get(segment.sentence or "")):
            translations[i] = text
    return ProjectEdits(
        translations=translations,
        sentence_translations={
            i: text
            for i, text in edits.sentence_translations.items()
            if i in sentences and len(sentences[i].segments) > 1 and text != sentences[i].translation
        },
        voices={i: v for i, v in edits.voices.items() if i in voices and voices[i] != v},
        keep_original={
            i: keep
            for i, keep in edits.keep_original.items()
            if i in segments and segments[i].keep_original != keep
        },
    )


def _sentence_reset(edits: ProjectEdits, sentence: ProjectSentence | None) -> bool:
    """Whether a pending edit of this (multi-line) sentence re-splits it."""
    return sentence is not None and len(sentence.segments) > 1 and sentence.id in edits.sentence_translations


def edited_project(project: DubProject, edits: ProjectEdits, voices: Sequence[Voice]) -> DubProject:
    """The project with ``edits`` applied: what `dubkit.pipeline.Pipeline.redub` should run.

    Args:
        project: The project as it is.
        edits: The pending changes (already checked by `apply_change`).
        voices: The voices the synthesizer offers for the target language (a changed speaker gets the
            offered voice with its rate and label).

    Raises:
        ConfigError: a voice is no longer offered.
    """
    out = project.model_copy(deep=True)
    offered = {v.id: v for v in voices}
    sentences = {s.id: s for s in out.sentences}
    segments = {s.id: s for s in out.segments}
    for sentence_id, text in edits.sentence_translations.items():
        sentence = sentences.get(sentence_id)
        if sentence is None:
            continue
        sentence.translation = text
        for member in sentence.segments:  # its lines' own edits go: the new text is split again
            if member in segments:
                segments[member].translation = segments[member].machine_translation
    for segment_id, text in edits.translations.items():
        segment = segments.get(segment_id)
        if segment is None:
            continue
        segment.translation = text
        own = sentences.get(segment_id)
        if own is not None and len(own.segments) == 1:
            own.translation = text
    for segment_id, keep in edits.keep_original.items():
        if segment_id in segments:
            segments[segment_id].keep_original = keep
    for speaker in out.speakers:
        wanted = edits.voices.get(speaker.id)
        if wanted is None:
            continue
        voice = offered.get(wanted)
        if voice is None:
            raise ConfigError(f"voice {wanted!r} is no longer offered by the synthesizer", field="voice")
        speaker.voice = ProjectVoice(id=voice.id, language=voice.language, rate=voice.rate, label=voice.label)
    return out


def affected_lines(project: DubProject, edits: ProjectEdits) -> list[str]:
    """Ids of the lines a re-dub with ``edits`` changes, in the project's order."""
    ids = set(edits.translations) | set(edits.keep_original)
    for sentence in project.sentences:
        if sentence.id in edits.sentence_translations:
            ids.update(sentence.segments)
    changed_speakers = set(edits.voices)
    ids.update(s.id for s in project.segments if s.speaker in changed_speakers)
    return [s.id for s in project.segments if s.id in ids]
