"""Builds the dub project (segments, voices, timing, quality) from a run's artifacts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from dubkit._version import __version__
from dubkit.models.project import (
    BackendChoice,
    DubProject,
    JobQuality,
    ProjectOutputs,
    ProjectSegment,
    ProjectSentence,
    ProjectSpeaker,
    ProjectVoice,
    SegmentQuality,
    SegmentTiming,
    SourceMedia,
    SynthesisQuality,
)
from dubkit.models.speech import (
    ClipTiming,
    Synthesis,
    TranslatedSentence,
    Translation,
    TranslationFallback,
    Voice,
)
from dubkit.models.text import join_pieces
from dubkit.pipeline.keys import DUBBED, MEDIA, OUTPUT, REVIEW, SYNTHESIS, TIMING, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, RunRequest

if TYPE_CHECKING:
    from dubkit.pipeline.result import StageReport

__all__ = ["QualityBounds", "build_project"]


@attrs.frozen(slots=True)
class QualityBounds:
    """Bounds outside of which a segment is flagged for review."""

    min_stretch: float = 0.85
    max_stretch: float = 1.2
    max_start_offset: float = 0.25
    max_back_wer: float = 0.5


_FALLBACK_FLAGS = {
    TranslationFallback.PIECES: "translated_by_line",
    TranslationFallback.SOURCE: "source_text_kept",
}


def _quality(
    timing: ClipTiming | None,
    next_start: float | None,
    bounds: QualityBounds,
    untranslated: Sequence[str],
    back_wer: float | None,
    *,
    fallback: TranslationFallback = TranslationFallback.NONE,
    fell_back: bool = False,
) -> SegmentQuality:
    flags: list[str] = ["voice_fallback"] if fell_back else []
    if fallback in _FALLBACK_FLAGS:
        flags.append(_FALLBACK_FLAGS[fallback])
    if untranslated:
        flags.append("untranslated_words")
    if back_wer is not None and back_wer > bounds.max_back_wer:
        flags.append("back_wer")
    if timing is None:
        return SegmentQuality(untranslated_words=list(untranslated), back_wer=back_wer, flags=flags)
    overlap = max(0.0, timing.end - next_start) if next_start is not None else 0.0
    if not bounds.min_stretch <= timing.stretch <= bounds.max_stretch:
        flags.append("stretch")
    if abs(timing.start_offset) > bounds.max_start_offset:
        flags.append("start_offset")
    if overlap > 1e-3:
        flags.append("overlap")
    flags += [f for f in timing.flags if f not in flags]
    return SegmentQuality(
        stretch=round(timing.stretch, 4),
        start_offset=round(timing.start_offset, 4),
        overlap=round(overlap, 4),
        untranslated_words=list(untranslated),
        back_wer=back_wer,
        flags=flags,
    )


def _project_voice(voice: Voice) -> ProjectVoice:
    return ProjectVoice(
        id=voice.id,
        language=voice.language,
        rate=voice.rate,
        label=voice.label,
        gender=voice.gender,
        pitch=voice.pitch,
    )


def _synthesis_quality(
    synthesis: Synthesis | None, reports: Sequence[StageReport]
) -> SynthesisQuality | None:
    """How the lines were voiced; the cost figures from the synthesize stage's report of this run."""
    if synthesis is None or not synthesis.synthesizer:
        return None
    report = next((r for r in reports if r.name == "synthesize" and not r.cached), None)
    cpu = (report.measured("cpu_seconds") if report else None) or 0.0
    speech = (report.measured("speech_seconds") if report else None) or 0.0
    return SynthesisQuality(
        synthesizer=synthesis.synthesizer,
        cpu_seconds=cpu,
        speech_seconds=speech,
        cpu_per_speech_second=round(cpu / speech, 3) if speech > 0 else None,
        fallback_segments=list(dict.fromkeys(issue.segment_id for issue in synthesis.fallbacks)),
    )


def build_project(
    request: RunRequest,
    artifacts: Artifacts,
    reports: Sequence[StageReport],
    *,
    run_dir: Path,
    backends: Mapping[str, BackendChoice] | None = None,
    bounds: QualityBounds | None = None,
) -> DubProject:
    """Assemble the dub project from whatever standard artifacts the run produced."""
    bounds = bounds or QualityBounds()
    media = artifacts.get(MEDIA)
    transcript = artifacts.get(TRANSCRIPT)
    translation = artifacts.get(TRANSLATION)
    synthesis = artifacts.get(SYNTHESIS)
    plan = artifacts.get(TIMING)
    dubbed = artifacts.get(DUBBED)
    output = artifacts.get(OUTPUT)
    review = artifacts.get(REVIEW)
    reviews = review.by_id() if review else {}

    translated = translation.by_id() if translation else {}
    timings = plan.by_id() if plan else {}
    clips = {c.segment_id: c for c in synthesis.clips} if synthesis else {}
    voices = synthesis.voice_map() if synthesis else {}
    fallbacks = {issue.segment_id for issue in synthesis.fallbacks} if synthesis else set()
    failures: dict[str, str] = {}
    for report in reports:
        for issue in report.issues:
            failures.setdefault(issue.segment_id, f"{issue.stage}: {issue.message}")

    ordered = sorted(timings.values(), key=lambda t: t.start)
    next_start = {
        t.segment_id: (ordered[i + 1].start if i + 1 < len(ordered) else None) for i, t in enumerate(ordered)
    }

    kept_lines = set(request.keep_original)
    sentence_of: dict[str, TranslatedSentence] = {}
    for sentence in translation.sentence_units() if translation else ():
        sentence_of.update({i: sentence for i in sentence.segment_ids})
    segments = []
    for seg in transcript.segments if transcript else ():
        tr = translated.get(seg.id)
        clip = clips.get(seg.id)
        timing = timings.get(seg.id)
        failed = seg.id in failures
        unit = sentence_of.get(seg.id)
        segments.append(
            ProjectSegment(
                id=seg.id,
                start=seg.start,
                end=seg.end,
                speaker=seg.speaker,
                source_text=seg.text,
                translation=tr.text if tr else "",
                machine_translation=tr.machine_text if tr else "",
                candidates=list(tr.candidates) if tr else [],
                voice=clip.voice.id if clip else None,
                timing=SegmentTiming(
                    start=timing.start,
                    end=timing.end,
                    stretch=timing.stretch,
                    gain_db=timing.gain_db,
                    candidate=timing.candidate,
                    rate=timing.rate,
                    spoken=tr.spoken(timing.candidate) if tr else "",
                )
                if timing
                else None,
                quality=_quality(
                    timing,
                    next_start.get(seg.id),
                    bounds,
                    tr.untranslated if tr else (),
                    reviews[seg.id].wer if seg.id in reviews else None,
                    fallback=unit.fallback if unit else TranslationFallback.NONE,
                    fell_back=seg.id in fallbacks,
                ),
                status="failed" if failed else "ok",
                error=failures.get(seg.id),
                sentence=unit.id if unit else None,
                keep_original=seg.id in kept_lines,
            )
        )
    sentences = (
        _sentences(
            translation, segments, timings=timings, next_start=next_start, bounds=bounds, reviews=reviews
        )
        if translation
        else []
    )

    duration = media.duration if media else 0.0
    stage_seconds = {r.name: round(r.seconds, 3) for r in reports}
    notes = []
    if transcript is not None and not transcript.segments:
        notes.append("no speech was found: the output keeps the original audio")
    if translation is not None and translation.translator is not None and translation.translator.chosen:
        notes.append(
            f"translator {translation.translator.name!r} was chosen for {translation.source_language} -> "
            f"{translation.target_language} (none was named)"
        )
    kept = sum(1 for s in sentences if s.fallback == "source")
    if kept:
        notes.append(f"{kept} sentence(s) kept source text the translator failed on: review them")
    if synthesis is not None:
        notes += [f"{issue.segment_id}: {issue.message}" for issue in synthesis.fallbacks]
    notes += [
        f"{report.name} ({kind} {name}): {note}"
        for report in reports
        for kind, name, use in report.devices
        for note in use.notes
    ]
    quality = JobQuality(
        loudness_lufs=dubbed.loudness_lufs if dubbed else None,
        mix_gain_db=dubbed.gain_db if dubbed else None,
        stage_seconds=stage_seconds,
        real_time_factor={k: round(v / duration, 4) for k, v in stage_seconds.items()} if duration else {},
        flagged_segments=[s.id for s in segments if s.quality.flags]
        + [s.id for s in sentences if s.layout == "joined" and s.quality.flags],
        failed_segments=[s.id for s in segments if s.status == "failed"],
        notes=notes,
        synthesis=_synthesis_quality(synthesis, reports),
    )
    profiles = {p.speaker: p for p in synthesis.profiles} if synthesis else {}
    speakers = [
        ProjectSpeaker(
            id=spk,
            voice=_project_voice(v) if (v := voices.get(spk)) else None,
            pitch=profile.pitch if (profile := profiles.get(spk)) else None,
            speech_seconds=profile.seconds if profile else None,
        )
        for spk in (transcript.speakers if transcript else ())
    ]
    return DubProject(
        dubkit_version=__version__,
        source=SourceMedia(
            path=str(request.source.path),
            sha256=request.source.sha256,
            duration=duration,
            has_video=media.has_video if media else False,
        ),
        source_language=transcript.language if transcript else (request.source_language or "auto"),
        requested_source_language=request.source_language or "auto",
        target_language=request.target_language,
        backends=_with_translator(backends or {}, translation),
        speakers=speakers,
        segments=segments,
        sentences=sentences,
        quality=quality,
        outputs=ProjectOutputs(
            media=str(output.media) if output else None,
            srt=str(output.srt) if output else None,
            vtt=str(output.vtt) if output else None,
            run_dir=str(run_dir),
        ),
    )


def _with_translator(
    backends: Mapping[str, BackendChoice], translation: Translation | None
) -> dict[str, BackendChoice]:
    """The backends, with the translator that actually translated (the one chosen for the pair)."""
    out = dict(backends)
    used = translation.translator if translation else None
    if used is not None:
        out["translator"] = BackendChoice(
            name=used.name, version=used.version, options=json.loads(used.options)
        )
    return out


def _sentences(
    translation: Translation,
    segments: Sequence[ProjectSegment],
    *,
    timings: Mapping[str, ClipTiming],
    next_start: Mapping[str, float | None],
    bounds: QualityBounds,
    reviews: Mapping[str, Any],
) -> list[ProjectSentence]:
    """The project's sentences, with the timing of those that play as one clip."""
    lines = {s.id: s for s in segments}
    out = []
    for sentence in translation.sentence_units():
        members = [lines[i] for i in sentence.segment_ids if i in lines]
        if not members:
            continue
        timing = timings.get(sentence.id) if len(members) > 1 else None
        out.append(
            ProjectSentence(
                id=sentence.id,
                segments=[m.id for m in members],
                start=members[0].start,
                end=members[-1].end,
                speaker=members[0].speaker,
                source_text=join_pieces([m.source_text for m in members], translation.source_language),
                translation=sentence.text,
                machine_translation=sentence.machine_text,
                candidates=list(sentence.candidates),
                layout="joined" if timing is not None else "pieces",
                timing=SegmentTiming(
                    start=timing.start,
                    end=timing.end,
                    stretch=timing.stretch,
                    gain_db=timing.gain_db,
                    candidate=timing.candidate,
                    rate=timing.rate,
                    spoken=sentence.spoken(timing.candidate),
                )
                if timing is not None
                else None,
                quality=_quality(
                    timing,
                    next_start.get(sentence.id),
                    bounds,
                    sentence.untranslated,
                    reviews[sentence.id].wer if sentence.id in reviews else None,
                    fallback=sentence.fallback,
                ),
                fallback=sentence.fallback.value,
            )
        )
    return out
