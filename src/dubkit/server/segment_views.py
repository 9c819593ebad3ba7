"""The editor's view of a job: its current lines with the changes not re-dubbed yet (`SegmentsOut`).

A line of a sentence whose whole translation was changed shows a preview of its new piece (the
re-dub splits the sentence the same way, `dubkit.stages.sentences.split_translation`, give or take a
word where the transcript's text was tidied for translation).
"""

from __future__ import annotations

from collections.abc import Sequence

from dubkit.models.project import DubProject, ProjectSegment, ProjectSentence
from dubkit.models.project_edits import ProjectEdits, affected_lines
from dubkit.models.speech import TranscriptSegment, Voice
from dubkit.server.schemas import API
from dubkit.server.segment_schemas import (
    LineAudioLinks,
    LineOut,
    LineQualityOut,
    LineTimingOut,
    Pending,
    SegmentsOut,
    SentenceOut,
    SpeakerOut,
    VoiceOut,
)
from dubkit.stages.sentences import SentenceUnit, split_translation

__all__ = ["segments_view"]


def _previews(project: DubProject, edits: ProjectEdits) -> dict[str, str]:
    """Line id -> its piece of a sentence whose whole translation changed (a preview of the re-split)."""
    lines = {s.id: s for s in project.segments}
    out: dict[str, str] = {}
    for sentence in project.sentences:
        text = edits.sentence_translations.get(sentence.id)
        members = [lines[i] for i in sentence.segments if i in lines]
        if text is None or len(members) < 2:
            continue
        unit = SentenceUnit(
            segments=tuple(
                TranscriptSegment(id=m.id, start=m.start, end=max(m.start, m.end), text=m.source_text)
                for m in members
            ),
            text=text,
        )
        pieces = split_translation(text, unit.weights, project.target_language)
        out.update({m.id: piece for m, piece in zip(members, pieces, strict=True)})
    return out


def _timing(segment: ProjectSegment, sentence: ProjectSentence | None) -> LineTimingOut | None:
    joined = segment.timing is None and sentence is not None and sentence.timing is not None
    timing = sentence.timing if joined and sentence is not None else segment.timing
    if timing is None:
        return None
    return LineTimingOut(
        start=timing.start,
        end=timing.end,
        stretch=timing.stretch,
        candidate=timing.candidate,
        rate=timing.rate,
        spoken=timing.spoken,
        joined=joined,
    )


def _line(
    index: int,
    segment: ProjectSegment,
    *,
    job_id: str,
    project: DubProject,
    edits: ProjectEdits,
    sentence: ProjectSentence | None,
    previews: dict[str, str],
) -> LineOut:
    pending: list[Pending] = []
    translation = segment.translation
    if segment.id in previews:
        translation = previews[segment.id]
        pending.append("sentence_translation")
    if segment.id in edits.translations:
        translation = edits.translations[segment.id]
        pending.append("translation")
    keep = edits.keep_original.get(segment.id, segment.keep_original)
    if segment.id in edits.keep_original:
        pending.append("keep_original")
    speaker = next((s for s in project.speakers if s.id == segment.speaker), None)
    voice = edits.voices.get(segment.speaker, speaker.voice.id if speaker and speaker.voice else None)
    if segment.speaker in edits.voices:
        pending.append("voice")
    candidates = list(sentence.candidates) if sentence is not None and len(sentence.segments) == 1 else []
    candidates = candidates or list(segment.candidates)
    base = f"{API}/jobs/{job_id}/segments/{segment.id}/audio"
    quality = segment.quality
    return LineOut(
        id=segment.id,
        index=index,
        start=segment.start,
        end=segment.end,
        speaker=segment.speaker,
        voice=voice,
        source_text=segment.source_text,
        translation=translation,
        machine_translation=segment.machine_translation,
        candidates=candidates,
        keep_original=keep,
        sentence=segment.sentence,
        edited=translation != segment.machine_translation,
        pending=pending,
        timing=_timing(segment, sentence),
        quality=LineQualityOut(
            stretch=quality.stretch,
            start_offset=quality.start_offset,
            overlap=quality.overlap,
            back_wer=quality.back_wer,
            untranslated_words=list(quality.untranslated_words),
            flags=list(quality.flags),
        ),
        status=segment.status,
        error=segment.error,
        audio=LineAudioLinks(source=f"{base}?track=source", dub=f"{base}?track=dub"),
    )


def segments_view(
    job_id: str, version: int, project: DubProject, edits: ProjectEdits, voices: Sequence[Voice]
) -> SegmentsOut:
    """The editor's view of a job's current project with its pending edits."""
    sentences = {s.id: s for s in project.sentences}
    previews = _previews(project, edits)
    lines = [
        _line(
            index,
            segment,
            job_id=job_id,
            project=project,
            edits=edits,
            sentence=sentences.get(segment.sentence or ""),
            previews=previews,
        )
        for index, segment in enumerate(project.segments, start=1)
    ]
    return SegmentsOut(
        job_id=job_id,
        result_version=version,
        source_language=project.source_language,
        target_language=project.target_language,
        segments=lines,
        sentences=[
            SentenceOut(
                id=s.id,
                segments=list(s.segments),
                translation=edits.sentence_translations.get(s.id, s.translation),
                machine_translation=s.machine_translation,
                candidates=list(s.candidates),
                layout=s.layout,
                edited=edits.sentence_translations.get(s.id, s.translation) != s.machine_translation,
                pending=s.id in edits.sentence_translations,
            )
            for s in project.sentences
            if len(s.segments) > 1
        ],
        speakers=[
            SpeakerOut(
                id=s.id,
                voice=edits.voices.get(s.id, s.voice.id if s.voice else None),
                pending=s.id in edits.voices,
            )
            for s in project.speakers
        ],
        voices=[VoiceOut(id=v.id, label=v.label or v.id) for v in voices],
        pending_segments=affected_lines(project, edits),
        redub=f"{API}/jobs/{job_id}/redub",
    )
