"""Speakers diarized chunk by chunk, linked into one set of labels for the whole input.

Each chunk's diarization names its speakers locally (``SPEAKER_00`` is whoever spoke first in that
chunk) and describes each with a `VoiceProfile`: the mean of its unit-length window embeddings. For two
profiles ``a`` and ``b``, ``1 - a @ b`` is the average cosine distance between their windows, which is
the distance average-linkage clustering merges clusters by. So linking asks of two chunks' voices the
question the diarizer asks inside a chunk: are they closer than its threshold?

Chunks are linked in time order. The whole input's speakers each keep a running profile (the weighted
mean of every chunk profile linked to them). A chunk's voices are matched to known speakers one to one,
closest pair first, while the distance is under ``max_distance`` (two voices a chunk told apart stay
apart); a voice left over becomes a new speaker, unless the speaker limit is reached or the chunk holds
less than ``min_new_speaker_seconds`` of it (a profile of a second or two of speech is too noisy to
call a new voice), when it joins the closest known speaker. Labels are renumbered in order of first
appearance.

The result depends only on the chunk diarizations, so a run resumed from cached chunks links them the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dubkit.models.speech import ChunkDiarization, SpeakerTurn, VoiceProfile

__all__ = ["link_speakers"]

_Vector = npt.NDArray[np.float64]


class _Speaker:
    """A speaker of the whole input: the sum of its linked window embeddings and their count."""

    def __init__(self, profile: VoiceProfile) -> None:
        self.total = np.asarray(profile.mean_embedding, dtype=np.float64) * profile.windows
        self.windows = profile.windows

    @property
    def mean(self) -> _Vector:
        return self.total / self.windows

    def add(self, profile: VoiceProfile) -> None:
        self.total = self.total + np.asarray(profile.mean_embedding, dtype=np.float64) * profile.windows
        self.windows += profile.windows


def link_speakers(
    chunks: Sequence[ChunkDiarization],
    *,
    max_distance: float,
    max_speakers: int | None = None,
    min_new_speaker_seconds: float = 2.0,
) -> list[SpeakerTurn]:
    """Every chunk's turns, relabelled so that one voice has one label across chunks, in time order.

    Args:
        chunks: The chunks' diarizations, in time order.
        max_distance: Average cosine distance under which a chunk's voice is a known speaker.
        max_speakers: The most speakers the input may have; ``None`` for no limit.
        min_new_speaker_seconds: A voice with less speech than this in its chunk joins the closest known
            speaker rather than becoming a new one (when a speaker is known).

    Raises:
        ValueError: a chunk's turn names a speaker it has no voice profile for, or ``max_speakers`` < 1.
    """
    if max_speakers is not None and max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, got {max_speakers}")
    speakers: list[_Speaker] = []
    turns: list[tuple[SpeakerTurn, int]] = []
    for chunk in chunks:
        known = {voice.speaker for voice in chunk.voices}
        missing = {turn.speaker for turn in chunk.turns} - known
        if missing:
            raise ValueError(f"turns name speakers without a voice profile: {sorted(missing)}")
        seconds = {voice.speaker: 0.0 for voice in chunk.voices}
        for turn in chunk.turns:
            seconds[turn.speaker] += turn.duration
        new_voices = {name for name, heard in seconds.items() if heard >= min_new_speaker_seconds}
        links = _link_chunk(chunk.voices, speakers, max_distance, new_voices=new_voices, limit=max_speakers)
        turns.extend((turn, links[turn.speaker]) for turn in chunk.turns)
    turns.sort(key=lambda pair: (pair[0].start, pair[0].end))
    names: dict[int, str] = {}
    for _, speaker in turns:
        names.setdefault(speaker, f"SPEAKER_{len(names):02d}")
    return [SpeakerTurn(turn.start, turn.end, names[speaker]) for turn, speaker in turns]


def _link_chunk(
    voices: Sequence[VoiceProfile],
    speakers: list[_Speaker],
    max_distance: float,
    *,
    new_voices: set[str],
    limit: int | None,
) -> dict[str, int]:
    """Each voice's index in ``speakers``, which gains the chunk's new speakers and absorbs its voices.

    Only voices in ``new_voices`` may become new speakers, and only while fewer than ``limit`` are known.
    """
    links: dict[str, int] = {}
    taken: set[int] = set()
    seeds: set[str] = set()  # voices that made a new speaker (its profile holds them already)
    if speakers:
        distances = _distances(voices, speakers)
        for flat in np.argsort(distances, axis=None, kind="stable"):
            row, column = divmod(int(flat), len(speakers))
            if distances[row, column] >= max_distance:
                break
            if voices[row].speaker not in links and column not in taken:
                links[voices[row].speaker] = column
                taken.add(column)
    for voice in voices:
        if voice.speaker in links:
            continue
        if not speakers or (voice.speaker in new_voices and (limit is None or len(speakers) < limit)):
            speakers.append(_Speaker(voice))
            links[voice.speaker] = len(speakers) - 1
            seeds.add(voice.speaker)
        else:  # too little of it to tell, or the limit is reached: the closest speaker, shared
            links[voice.speaker] = int(np.argmin(_distances([voice], speakers)[0]))
    for voice in voices:
        if voice.speaker not in seeds:
            speakers[links[voice.speaker]].add(voice)
    return links


def _distances(voices: Sequence[VoiceProfile], speakers: Sequence[_Speaker]) -> _Vector:
    """Average cosine distance of every voice (rows) to every speaker (columns)."""
    vectors = np.stack([np.asarray(voice.mean_embedding, dtype=np.float64) for voice in voices])
    return np.asarray(1.0 - vectors @ np.stack([speaker.mean for speaker in speakers]).T)
