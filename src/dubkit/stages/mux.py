"""Stage 11, mux: the final MP4 (video copied, dub + original audio, soft subtitles) and SRT/VTT files.

Subtitles show what the dub says, where it says it (each chosen clip's text at its placement), laid out
by the usual rules (`dubkit.media.subtitle_layout`); the original-language track shows the transcript.
A line not voiced (kept in its original speech, or never voiced) shows its translation in its own slot.
"""

from __future__ import annotations

from dubkit.media import mux, write_subtitles
from dubkit.media.subtitle_layout import SpokenText, layout_cues
from dubkit.models.media import MuxedMedia
from dubkit.models.speech import TimingPlan
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import DUBBED, MEDIA, OUTPUT, SOURCE, SYNTHESIS, TIMING, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage
from dubkit.stages.mix import chosen_clips
from dubkit.stages.probe import media_at_source

__all__ = ["MuxStage"]


class MuxStage(BaseStage[MuxedMedia]):
    """Muxes without re-encoding the video; audio-only input gives an M4A."""

    name = "mux"
    version = "3"
    inputs = (SOURCE, MEDIA, TRANSCRIPT, TRANSLATION, SYNTHESIS, TIMING, DUBBED)
    output = OUTPUT

    def run(self, ctx: StageContext, inputs: Artifacts) -> MuxedMedia:
        """Write subtitles and the muxed file into the stage folder.

        The dub's AAC blocks are kept in the stage's unit cache: a re-mux after an edit encodes only the
        blocks whose audio changed.
        """
        media = media_at_source(inputs)
        transcript = inputs[TRANSCRIPT]
        translation = inputs[TRANSLATION]
        plan = TimingPlan(tuple(t for t in inputs[TIMING].timings if not t.source_audio))
        spoken = [
            SpokenText(timing.start, timing.end, clip.text)
            for timing, clip in zip(plan.timings, chosen_clips(inputs[SYNTHESIS], plan), strict=True)
        ]
        placed = {t.segment_id for t in plan.timings}
        for sentence in translation.sentence_units():
            placed.update(sentence.segment_ids if sentence.id in placed else ())
        segments = {s.id: s for s in transcript.segments}
        for line in translation.segments:  # lines not voiced keep their subtitle, at their own time
            seg = segments.get(line.segment_id)
            if seg is not None and line.segment_id not in placed and line.text.strip():
                spoken.append(SpokenText(seg.start, seg.end, line.text))
        target_cues = layout_cues(spoken, translation.target_language, duration=media.duration)
        source_cues = layout_cues(
            [SpokenText(s.start, s.end, s.text) for s in transcript.segments],
            transcript.language,
            duration=media.duration,
        )
        srt = write_subtitles(target_cues, ctx.work_dir / f"dub.{translation.target_language}.srt")
        vtt = write_subtitles(target_cues, ctx.work_dir / f"dub.{translation.target_language}.vtt")
        suffix = ".mp4" if media.has_video else ".m4a"
        out = mux(
            media,
            inputs[DUBBED].track,
            cues_target=target_cues,
            cues_source=source_cues,
            target_language=translation.target_language,
            source_language=transcript.language,
            out_path=ctx.work_dir / f"dub{suffix}",
            cwd=ctx.work_dir,
            cache_dir=ctx.units().directory,
        )
        return MuxedMedia(media=out, srt=srt, vtt=vtt)
