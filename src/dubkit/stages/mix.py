"""Stage 10, mix: lay the clips over the background and normalise loudness (block by block, cached).

A line kept in its original speech (``ClipTiming.source_audio``) plays the separated voice stem's slice
of its slot over the background; with no separation there is nothing to add: the original audio under
it is simply not ducked there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dubkit.errors import StageError
from dubkit.media import mix
from dubkit.media.pcm import open_pcm
from dubkit.media.wavwrite import wav_header
from dubkit.models.media import AudioFile, DubbedAudio
from dubkit.models.speech import Clip, ClipTiming, Synthesis, TimingPlan, Voice
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, DUBBED, STEMS, SYNTHESIS, TIMING
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["MixStage", "chosen_clips"]


def chosen_clips(synthesis: Synthesis, plan: TimingPlan) -> list[Clip]:
    """The clip the plan chose for each dubbed line or joined sentence (its candidate at its speaking rate).

    Lines kept in their original speech (``ClipTiming.source_audio``) have no dubbed clip and are left out.

    Raises:
        StageError: the plan names a clip the synthesis does not have.
    """
    by_choice = {
        (c.segment_id, c.candidate, round(c.voice.rate, 4)): c
        for c in (*synthesis.clips, *synthesis.joined, *synthesis.alternatives)
    }
    out = []
    for timing in plan.timings:
        if timing.source_audio:
            continue
        clip = by_choice.get((timing.segment_id, timing.candidate, round(timing.rate, 4)))
        if clip is None:
            raise StageError(
                "mix", f"no clip for {timing.segment_id} (candidate {timing.candidate}, rate {timing.rate})"
            )
        out.append(clip)
    return out


class MixStage(BaseStage[DubbedAudio]):
    """Mixes over the separated background, or ducks the original audio when none was separated.

    Args:
        target_lufs: Integrated loudness of the result (EBU R128).
    """

    name = "mix"
    version = "2"
    inputs = (AUDIO, STEMS, SYNTHESIS, TIMING)
    output = DUBBED

    def __init__(self, *, target_lufs: float = -16.0) -> None:
        self.target_lufs = target_lufs

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The loudness target (and on a re-dub, the gain to keep)."""
        out: dict[str, Any] = {"target_lufs": self.target_lufs}
        if request.keep_gain_db is not None:
            out["keep_gain_db"] = request.keep_gain_db
        return out

    def run(self, ctx: StageContext, inputs: Artifacts) -> DubbedAudio:
        """Write the dubbed track into the stage folder.

        Rendered clips and mixed blocks are kept in the stage's unit cache, so a re-mix after an edit
        renders only the edited clip and the blocks it reaches.
        """
        ctx.progress(0.0, "mixing")
        plan = inputs[TIMING]
        stems = inputs[STEMS]
        clips = chosen_clips(inputs[SYNTHESIS], plan)
        kept = [t for t in plan.timings if t.source_audio]
        if stems.voice is not None:
            clips += [_original_speech(stems.voice, t, ctx.work_dir) for t in kept]
        else:  # the original audio is the bed: not ducking it under a kept line is all it takes
            plan = TimingPlan(tuple(t for t in plan.timings if not t.source_audio))
        return mix(
            plan,
            clips,
            original=inputs[AUDIO].full,
            background=stems.background,
            out_path=ctx.work_dir / "dubbed.wav",
            target_lufs=self.target_lufs,
            cwd=ctx.work_dir,
            cache_dir=ctx.units().directory,
            keep_gain_db=ctx.request.keep_gain_db,
        )


def _original_speech(voice: AudioFile, timing: ClipTiming, folder: Path) -> Clip:
    """The separated voice's slice of a kept line's slot, as a clip (its samples copied as stored)."""
    pcm = open_pcm(voice.path)
    first = max(0, round(timing.start * pcm.sample_rate))
    count = max(1, round(timing.end * pcm.sample_rate) - first)
    codec = "pcm_f32le" if pcm.raw_format == "f32le" else "pcm_s16le"
    data = pcm.read_bytes(first, count)
    if pcm.raw_format not in ("f32le", "s16le"):  # other integer widths: as 16-bit
        samples = pcm.read(first, count)
        data = (samples.clip(-1.0, 1.0) * 32767).astype("<i2").tobytes()
    path = folder / f"original-{timing.segment_id}.wav"
    header = wav_header(
        sample_rate=pcm.sample_rate,
        channels=pcm.channels,
        layout=voice.channel_layout,
        codec=codec,
        frames=count,
    )
    path.write_bytes(header + data)
    return Clip(
        segment_id=timing.segment_id,
        path=path,
        duration=count / pcm.sample_rate,
        sample_rate=pcm.sample_rate,
        voice=Voice(id="original", language=""),
        text="",
    )
