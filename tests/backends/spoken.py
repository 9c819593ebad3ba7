"""What a synthesizer's clip must be: as long as it says, and speech rather than silence or noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dubkit.backends.wav import read_wav_mono
from dubkit.media.pitch import median_pitch
from dubkit.models.media import AudioFile


def check_spoken(clip: AudioFile) -> float:
    """Seconds of voiced sound in ``clip``, after checking its file matches what the backend reported.

    The file's samples give the reported duration (to a sample), more than half its 20 ms frames are
    within 30 dB of its loudest, and a pitch is found in it.
    """
    rate, samples = read_wav_mono(Path(clip.path))
    assert rate == clip.sample_rate
    assert abs(len(samples) / rate - clip.duration) <= 1 / rate
    frame = rate // 50
    frames = samples[: len(samples) // frame * frame].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms > rms.max() * 10 ** (-30 / 20)
    assert rms.max() > 0 and loud.mean() > 0.5, f"{loud.mean():.0%} of frames carry sound"
    assert median_pitch(samples, rate) is not None
    return float(loud.sum()) / 50
