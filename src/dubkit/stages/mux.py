"""Stage 11, mux: the final MP4 (video copied, dub + original audio, soft subtitles) and SRT/VTT files."""

from __future__ import annotations

from dubkit.media import mux, write_subtitles
from dubkit.models.media import MuxedMedia, SubtitleCue
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import DUBBED, MEDIA, OUTPUT, SOURCE, TIMING, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage
from dubkit.stages.probe import media_at_source

__all__ = ["MuxStage"]


class MuxStage(BaseStage[MuxedMedia]):
    """Muxes without re-encoding the video; audio-only input gives an M4A."""

    name = "mux"
    version = "2"
    inputs = (SOURCE, MEDIA, TRANSCRIPT, TRANSLATION, TIMING, DUBBED)
    output = OUTPUT

    def run(self, ctx: StageContext, inputs: Artifacts) -> MuxedMedia:
        """Write subtitles and the muxed file into the stage folder.

        The dub's AAC blocks are kept in the stage's unit cache: a re-mux after an edit encodes only the
        blocks whose audio changed.
        """
        media = media_at_source(inputs)
        transcript = inputs[TRANSCRIPT]
        translation = inputs[TRANSLATION]
        timings = inputs[TIMING].by_id()
        translated = translation.by_id()
        target_cues, source_cues = [], []
        for seg in transcript.segments:
            source_cues.append(SubtitleCue(seg.start, seg.end, seg.text))
            tr = translated.get(seg.id)
            if tr is None or not tr.text.strip():
                continue
            timing = timings.get(seg.id)
            start, end = (timing.start, timing.end) if timing else (seg.start, seg.end)
            target_cues.append(SubtitleCue(start, end, tr.spoken(timing.candidate if timing else 0)))
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
