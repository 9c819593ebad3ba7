"""Speech regions from Silero VAD's per-window speech probabilities, without the silero_vad package.

A port of ``silero_vad.utils_vad.get_speech_timestamps_from_probs`` (silero-vad 6.x, MIT licence) with
its defaults for the options dubkit does not expose (``min_silence_at_max_speech=98``,
``use_max_poss_sil_at_max_speech=True``, sample positions rather than seconds). The package's
``__init__`` imports torch, which a dub should not pay for (1-2 s and ~200 MB per process) to run
a pure-Python loop; the tests check this port against the package's own function.

(its licence is in THIRD_PARTY_NOTICES.md.)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["WINDOW_SAMPLES", "speech_timestamps"]

#: Samples per Silero VAD window at each supported sample rate (32 ms).
WINDOW_SAMPLES = {16000: 512, 8000: 256}
_MIN_SILENCE_AT_MAX_SPEECH_MS = 98


def speech_timestamps(  # noqa: PLR0912, PLR0915 (silero's loop, kept line for line)
    probabilities: Sequence[float],
    *,
    sampling_rate: int = 16000,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech_ms: float = 250,
    max_speech_s: float = float("inf"),
    min_silence_ms: float = 100,
    speech_pad_ms: float = 30,
    audio_length_samples: int | None = None,
) -> list[tuple[int, int]]:
    """``(start, end)`` sample positions of the speech in a file, in order.

    Args:
        probabilities: One speech probability per window (`WINDOW_SAMPLES`), in order.
        sampling_rate: 16000 or 8000.
        threshold: A window at or over this probability is speech.
        neg_threshold: Speech ends under this probability (default ``max(threshold - 0.15, 0.01)``).
        min_speech_ms: Shorter speech is dropped.
        max_speech_s: Longer speech is split at its longest pause (or hard).
        min_silence_ms: Shorter pauses do not end speech.
        speech_pad_ms: Padding added on both sides of each region (halved between close regions).
        audio_length_samples: The file's length (default: the windows' total length).
    """
    window = WINDOW_SAMPLES[16000] if sampling_rate == 16000 else WINDOW_SAMPLES[8000]
    length = len(probabilities) * window if audio_length_samples is None else audio_length_samples
    min_speech = sampling_rate * min_speech_ms / 1000
    pad = sampling_rate * speech_pad_ms / 1000
    max_speech = sampling_rate * max_speech_s - window - 2 * pad
    min_silence = sampling_rate * min_silence_ms / 1000
    min_silence_at_max = sampling_rate * _MIN_SILENCE_AT_MAX_SPEECH_MS / 1000
    low = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold

    speeches: list[list[float]] = []  # [start, end] pairs; end is filled in when the speech closes
    start: float | None = None  # the open speech's start (silero's ``current_speech``)
    triggered = False
    temp_end = 0  # where a pause inside the speech began (0: none)
    prev_end = next_start = 0
    possible_ends: list[tuple[int, int]] = []  # (pause start, pause length) inside the open speech

    for index, probability in enumerate(probabilities):
        sample = window * index
        if probability >= threshold and temp_end:
            pause = sample - temp_end
            if pause > min_silence_at_max:
                possible_ends.append((temp_end, pause))
            temp_end = 0
            if next_start < prev_end:
                next_start = sample
        if probability >= threshold and not triggered:
            triggered = True
            start = sample
            continue
        if triggered and start is not None and sample - start > max_speech:
            if possible_ends:
                prev_end, pause = max(possible_ends, key=lambda end: end[1])
                speeches.append([start, prev_end])
                start = None
                next_start = prev_end + pause
                if next_start < prev_end + sample:
                    start = next_start
                else:
                    triggered = False
                prev_end = next_start = temp_end = 0
                possible_ends = []
            else:
                speeches.append([start, sample])
                start = None
                prev_end = next_start = temp_end = 0
                triggered = False
                possible_ends = []
                continue
        if probability < low and triggered:
            if not temp_end:
                temp_end = sample
            if sample - temp_end < min_silence:
                continue
            if start is not None and temp_end - start > min_speech:
                speeches.append([start, temp_end])
            start = None
            prev_end = next_start = temp_end = 0
            triggered = False
            possible_ends = []
            continue

    if start is not None and length - start > min_speech:
        speeches.append([start, length])
    return _pad(speeches, pad, length)


def _pad(speeches: list[list[float]], pad: float, length: int) -> list[tuple[int, int]]:
    """Silero's padding: ``pad`` on each side, or half the pause each when the pause is under 2 pads."""
    for index, speech in enumerate(speeches):
        if index == 0:
            speech[0] = int(max(0, speech[0] - pad))
        if index != len(speeches) - 1:
            following = speeches[index + 1]
            silence = following[0] - speech[1]
            if silence < 2 * pad:
                speech[1] += int(silence // 2)
                following[0] = int(max(0, following[0] - silence // 2))
            else:
                speech[1] = int(min(length, speech[1] + pad))
                following[0] = int(max(0, following[0] - pad))
        else:
            speech[1] = int(min(length, speech[1] + pad))
    return [(int(a), int(b)) for a, b in speeches]
