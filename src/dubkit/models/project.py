"""The dub project: the editable, versioned JSON record of one dub (pydantic, since it is serialised).

A dub project holds every segment with its times, speaker, source text, translation, voice, fitted
timing and quality fields, and the sentences the segments form (consecutive lines of one speaker,
translated together). It is the source of truth for a re-dub: edit a sentence's ``translation`` (its
lines get their pieces of it), a segment's ``translation`` (that piece alone), a speaker's ``voice``, or
a segment's ``keep_original``, and re-run: only what changed is redone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dubkit.errors import ConfigError

__all__ = [
    "PROJECT_SCHEMA_VERSION",
    "BackendChoice",
    "DubProject",
    "JobQuality",
    "ProjectOutputs",
    "ProjectSegment",
    "ProjectSentence",
    "ProjectSpeaker",
    "ProjectVoice",
    "SegmentQuality",
    "SegmentTiming",
    "SourceMedia",
    "SynthesisQuality",
]

PROJECT_SCHEMA_VERSION: Literal[1] = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceMedia(_Model):
    """The input the project was made from."""

    path: str
    sha256: str
    duration: float = Field(ge=0)
    has_video: bool


class BackendChoice(_Model):
    """One backend the run used.

    ``device`` and ``compute_type`` say where it ran when it made its stage's output (``cuda``,
    ``float16``): what ``device="auto"`` resolved to, or where it moved after running out of GPU
    memory; for a stage taken from the cache, where it ran in the run that made it. ``None`` when the
    backend does not choose a device, or a cached stage has no record of it.
    """

    name: str
    version: str = ""
    options: dict[str, object] = Field(default_factory=dict)
    device: str | None = None
    compute_type: str | None = None


class ProjectVoice(_Model):
    """A synthesizer voice (``id`` is the backend's voice id; ``gender`` and ``pitch`` describe it)."""

    id: str
    language: str
    rate: float = Field(default=1.0, gt=0)
    label: str = ""
    gender: str | None = None
    pitch: float | None = None


class ProjectSpeaker(_Model):
    """A diarized speaker and the voice that dubs them; edit ``voice`` to re-voice their lines.

    ``voice`` was cast from the speaker's median pitch (``pitch``, Hz, measured on the source audio) and
    the voices the synthesizer offers; set its ``id`` to another voice of the same synthesizer (for
    Kokoro also a blend such as ``jm_kumo:0.75+jf_alpha:0.25``) and re-dub.
    """

    id: str
    voice: ProjectVoice | None = None
    pitch: float | None = None
    speech_seconds: float | None = None


class SegmentTiming(_Model):
    """Where the dubbed line plays, and what it says there.

    ``candidate`` is the translation candidate the timing solver chose (0 = ``translation``; a higher
    index means a shorter alternative was spoken, shown in ``spoken``), ``rate`` the speaking rate.
    """

    start: float
    end: float
    stretch: float = 1.0
    gain_db: float = 0.0
    candidate: int = 0
    rate: float = 1.0
    spoken: str = ""


class SegmentQuality(_Model):
    """Per-line quality measures; ``flags`` lists the bounds the line is outside of."""

    stretch: float | None = None
    start_offset: float | None = None
    overlap: float = 0.0
    untranslated_words: list[str] = Field(default_factory=list)
    back_wer: float | None = None
    flags: list[str] = Field(default_factory=list)


class ProjectSegment(_Model):
    """One line of the dub; ``translation`` is editable.

    For a line of a sentence of several lines, ``machine_translation`` is its piece of the sentence's
    translation, and ``timing`` is ``None`` when the sentence plays as one clip (see `ProjectSentence`).
    Set ``keep_original`` to play the line's original speech instead of a dubbed line (its translation
    still goes into the subtitles).
    """

    id: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    speaker: str
    source_text: str
    translation: str = ""
    machine_translation: str = ""
    candidates: list[str] = Field(default_factory=list)
    voice: str | None = None
    timing: SegmentTiming | None = None
    quality: SegmentQuality = Field(default_factory=SegmentQuality)
    status: Literal["ok", "failed", "skipped"] = "ok"
    error: str | None = None
    sentence: str | None = None
    keep_original: bool = False

    @property
    def edited(self) -> bool:
        """Whether the translation differs from what the machine produced."""
        return self.translation != self.machine_translation


class ProjectSentence(_Model):
    """Consecutive lines of one speaker translated as one sentence; ``translation`` is editable.

    Attributes:
        id: ``seg-0003`` for a one-line sentence (the line's own id), ``seg-0003..seg-0005`` else.
        segments: Its lines' ids, in order.
        translation: The sentence's translation; edited, it is split into its lines' pieces again.
        layout: ``pieces``: each line plays its piece in its own slot; ``joined``: the whole sentence
            plays as one clip across its pauses (``timing`` then says where).
        fallback: ``pieces`` when the translator failed on the sentence and its lines were translated
            one by one; ``source`` when a line kept its source text (to review).
    """

    id: str
    segments: list[str]
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    speaker: str
    source_text: str
    translation: str = ""
    machine_translation: str = ""
    candidates: list[str] = Field(default_factory=list)
    layout: Literal["pieces", "joined"] = "pieces"
    timing: SegmentTiming | None = None
    quality: SegmentQuality = Field(default_factory=SegmentQuality)
    fallback: Literal["", "pieces", "source"] = ""

    @property
    def edited(self) -> bool:
        """Whether the translation differs from what the machine produced."""
        return self.translation != self.machine_translation


class SynthesisQuality(_Model):
    """How the lines were voiced.

    ``cpu_per_speech_second`` is processor seconds spent voicing per second of speech voiced in the run
    that voiced them (``None`` when every clip came from the cache); ``fallback_segments`` lists lines the
    synthesizer could not say and a fallback voiced (each flagged ``voice_fallback``).
    """

    synthesizer: str
    cpu_seconds: float = 0.0
    speech_seconds: float = 0.0
    cpu_per_speech_second: float | None = None
    fallback_segments: list[str] = Field(default_factory=list)


class JobQuality(_Model):
    """Whole-dub measures.

    ``mix_gain_db`` is the gain that took the mix to its loudness target; a re-dub keeps it while the
    result stays close to the target, so that an edit leaves the rest of the dub the same bytes.
    """

    loudness_lufs: float | None = None
    mix_gain_db: float | None = None
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    real_time_factor: dict[str, float] = Field(default_factory=dict)
    flagged_segments: list[str] = Field(default_factory=list)
    failed_segments: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    synthesis: SynthesisQuality | None = None


class ProjectOutputs(_Model):
    """Files the run wrote, relative to the project file's folder where possible."""

    media: str | None = None
    srt: str | None = None
    vtt: str | None = None
    run_dir: str | None = None


class DubProject(_Model):
    """A dub of one input into one target language."""

    schema_version: Literal[1] = PROJECT_SCHEMA_VERSION
    dubkit_version: str
    source: SourceMedia
    source_language: str
    requested_source_language: str = "auto"
    target_language: str
    backends: dict[str, BackendChoice] = Field(default_factory=dict)
    speakers: list[ProjectSpeaker] = Field(default_factory=list)
    segments: list[ProjectSegment] = Field(default_factory=list)
    sentences: list[ProjectSentence] = Field(default_factory=list)
    quality: JobQuality = Field(default_factory=JobQuality)
    outputs: ProjectOutputs = Field(default_factory=ProjectOutputs)

    def translation_edits(self) -> dict[str, str]:
        """Sentence or segment id -> edited translation, for every one whose text a person changed.

        A segment's edit comes after its sentence's (for a one-line sentence, which shares the id, it wins).
        """
        edits = {s.id: s.translation for s in self.sentences if s.edited}
        edits.update({s.id: s.translation for s in self.segments if s.edited})
        return edits

    def placed(self) -> list[tuple[str, float, float, SegmentTiming]]:
        """Every clip the dub plays (lines, joined sentences): ``(id, source start, source end, timing)``."""
        out = [(s.id, s.start, s.end, s.timing) for s in self.segments if s.timing is not None]
        out += [(s.id, s.start, s.end, s.timing) for s in self.sentences if s.timing is not None]
        return sorted(out, key=lambda p: p[3].start)

    def kept_original(self) -> list[str]:
        """Ids of the lines that play their original speech instead of a dubbed line."""
        return [s.id for s in self.segments if s.keep_original]

    def voice_edits(self) -> dict[str, ProjectVoice]:
        """Speaker id -> voice, for every speaker with a voice set."""
        return {s.id: s.voice for s in self.speakers if s.voice is not None}

    def dumps(self) -> str:
        """The project as indented JSON."""
        return self.model_dump_json(indent=2)

    def save(self, path: str | Path) -> Path:
        """Write the project as JSON (atomically: temp file, fsync, rename)."""
        from dubkit.atomicfile import atomic_write_text

        target = Path(path)
        atomic_write_text(target, self.dumps())
        return target

    @classmethod
    def load(cls, path: str | Path) -> DubProject:
        """Read a project file.

        Raises:
            ConfigError: the file is not valid JSON or not a dub project of a known schema version.
        """
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read dub project {path}: {exc.strerror or exc}", field="project"
            ) from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}", field="project") from exc
        try:
            return cls.model_validate(data)
        except ValueError as exc:
            raise ConfigError(f"{path} is not a valid dub project: {exc}", field="project") from exc
