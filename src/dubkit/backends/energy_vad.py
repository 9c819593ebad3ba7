"""The ``energy`` VAD: short-time energy against an adaptive noise floor, with hysteresis. No models."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from dubkit.backends.base import BaseVAD
from dubkit.backends.wav import wav_blocks
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion

__all__ = ["EnergyVAD"]


class EnergyVAD(BaseVAD["EnergyVAD.Options"]):
    """Marks frames whose energy is ``margin_db`` over the noise floor; merges and pads the regions."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            frame_ms: Analysis frame length.
            margin_db: How far over the noise floor (the 10th percentile frame energy) speech must be.
            min_speech: Shortest region kept, seconds.
            min_silence: Shorter pauses are merged, seconds.
            pad: Seconds added on both sides of each region.
        """

        frame_ms: float = 30.0
        margin_db: float = 12.0
        min_speech: float = 0.25
        min_silence: float = 0.35
        pad: float = 0.1

    def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
        """Speech regions of a PCM WAV file, read block by block."""
        opts = self.options
        energies: list[float] = []
        frame = 0
        for rate, block in wav_blocks(audio.path):
            frame = max(1, int(rate * opts.frame_ms / 1000))
            usable = len(block) - len(block) % frame
            if usable:
                frames = block[:usable].reshape(-1, frame)
                energies.extend((10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)).tolist())
        if not energies:
            return []
        db = np.asarray(energies)
        floor = float(np.percentile(db, 10))
        loud = db > max(floor + opts.margin_db, -60.0)
        hop = frame / (audio.sample_rate or 16000)
        regions: list[list[float]] = []
        start = None
        for i, flag in enumerate(loud):
            if flag and start is None:
                start = i * hop
            elif not flag and start is not None:
                regions.append([start, i * hop])
                start = None
        if start is not None:
            regions.append([start, len(loud) * hop])
        merged: list[list[float]] = []
        for region in regions:
            if merged and region[0] - merged[-1][1] < opts.min_silence:
                merged[-1][1] = region[1]
            else:
                merged.append(region)
        end_limit = audio.duration or len(loud) * hop
        return [
            SpeechRegion(max(0.0, s - opts.pad), min(end_limit, e + opts.pad))
            for s, e in merged
            if e - s >= opts.min_speech
        ]
