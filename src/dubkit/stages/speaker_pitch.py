"""How each speaker sounds: their median F0 over their lines, measured on the analysis audio.

A speaker's lines are read from the 16 kHz analysis track one at a time (never the whole file), up to
`MAX_SECONDS` of them spread over the input (so a two-hour talk costs what a two-minute one does),
and their voiced frames pooled (`dubkit.media.pitch`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dubkit.errors import MediaError
from dubkit.media.pcm import open_pcm
from dubkit.media.pitch import frame_pitches
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeakerProfile, TranscriptSegment

__all__ = ["MAX_SECONDS", "speaker_profiles"]

#: Seconds of each speaker's speech measured at most.
MAX_SECONDS = 60.0
_MIN_FRAMES = 20  # voiced 10 ms frames needed for a pitch (0.2 s of voiced speech)


def _spread(lines: Sequence[TranscriptSegment], budget: float) -> list[TranscriptSegment]:
    """Lines spread evenly over the input whose durations add up to about ``budget`` seconds."""
    total = sum(line.duration for line in lines)
    if total <= budget:
        return list(lines)
    count = max(1, round(len(lines) * budget / total))
    picks = np.linspace(0, len(lines) - 1, count).round().astype(int)
    return [lines[i] for i in sorted(set(picks.tolist()))]


def speaker_profiles(
    audio: AudioFile | None, segments: Sequence[TranscriptSegment], *, max_seconds: float = MAX_SECONDS
) -> tuple[SpeakerProfile, ...]:
    """One profile per speaker of ``segments`` (order of first appearance): speech seconds and median F0.

    Args:
        audio: The analysis track (mono WAV); ``None`` (or an unreadable file) gives profiles without pitch.
        segments: The transcript's lines, with speakers.
        max_seconds: Seconds of each speaker's lines measured at most.
    """
    by_speaker: dict[str, list[TranscriptSegment]] = {}
    for seg in sorted(segments, key=lambda s: s.start):
        by_speaker.setdefault(seg.speaker, []).append(seg)
    order = list(dict.fromkeys(seg.speaker for seg in segments))
    try:
        pcm = open_pcm(audio.path) if audio is not None else None
    except (MediaError, OSError):
        pcm = None
    profiles = []
    for speaker in order:
        lines = by_speaker[speaker]
        seconds = round(sum(line.duration for line in lines), 3)
        pitch = None
        if pcm is not None:
            found = []
            for line in _spread(lines, max_seconds):
                start = round(line.start * pcm.sample_rate)
                count = round(line.duration * pcm.sample_rate)
                samples = pcm.read(start, count).mean(axis=1)
                found.append(frame_pitches(samples, pcm.sample_rate))
            voiced = np.concatenate(found) if found else np.zeros(0)
            pitch = round(float(np.median(voiced)), 1) if len(voiced) >= _MIN_FRAMES else None
        profiles.append(SpeakerProfile(speaker=speaker, seconds=seconds, pitch=pitch))
    return tuple(profiles)
