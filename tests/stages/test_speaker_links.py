"""Linking chunk-local speakers into one set of labels by their voice profiles."""

from __future__ import annotations

import numpy as np
import pytest

from dubkit.models import ChunkDiarization, SpeakerTurn, VoiceProfile
from dubkit.stages.speaker_links import link_speakers

RNG = np.random.default_rng(3)
DIM = 32
VOICES = {name: RNG.normal(size=DIM) for name in "ABCD"}


def _profile(label: str, voice: str, windows: int = 20, spread: float = 0.35) -> VoiceProfile:
    """The mean of ``windows`` unit vectors scattered around the voice's direction."""
    base = VOICES[voice] / np.linalg.norm(VOICES[voice])
    samples = base + RNG.normal(scale=spread / np.sqrt(DIM), size=(windows, DIM))
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    return VoiceProfile(label, tuple(float(v) for v in samples.mean(axis=0)), windows)


def _chunk(start: float, *voices: str) -> ChunkDiarization:
    """Turns of 2 s, one per voice in order, labelled locally by first appearance."""
    local = {v: f"SPEAKER_{i:02d}" for i, v in enumerate(dict.fromkeys(voices))}
    turns = tuple(SpeakerTurn(start + 2 * i, start + 2 * i + 2, local[v]) for i, v in enumerate(voices))
    return ChunkDiarization(turns, tuple(_profile(label, v) for v, label in local.items()))


def _labels_by_voice(turns: list[SpeakerTurn], truth: list[str]) -> dict[str, set[str]]:
    assert len(turns) == len(truth)
    found: dict[str, set[str]] = {}
    for turn, voice in zip(turns, truth, strict=True):
        found.setdefault(voice, set()).add(turn.speaker)
    return found


def test_each_voice_keeps_one_label_whichever_chunks_it_speaks_in() -> None:
    chunks = [_chunk(0, "A", "B", "A"), _chunk(10, "B"), _chunk(20, "A"), _chunk(30, "B", "A", "B")]
    truth = ["A", "B", "A", "B", "A", "B", "A", "B"]
    turns = link_speakers(chunks, max_distance=0.3)
    assert _labels_by_voice(turns, truth) == {"A": {"SPEAKER_00"}, "B": {"SPEAKER_01"}}
    assert [t.start for t in turns] == sorted(t.start for t in turns)


def test_a_voice_first_heard_in_a_later_chunk_is_a_new_speaker() -> None:
    chunks = [_chunk(0, "A"), _chunk(10, "A", "C"), _chunk(20, "C", "B")]
    turns = link_speakers(chunks, max_distance=0.3)
    labels = [t.speaker for t in turns]
    assert labels == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01", "SPEAKER_01", "SPEAKER_02"]


def test_two_voices_a_chunk_told_apart_never_share_a_label() -> None:
    # With a distance so generous that every voice is "close", the chunk's two voices still stay two.
    chunks = [_chunk(0, "A", "B"), _chunk(10, "B", "A")]
    turns = link_speakers(chunks, max_distance=2.0)
    assert {t.speaker for t in turns[:2]} == {"SPEAKER_00", "SPEAKER_01"}
    assert [t.speaker for t in turns[2:]] == ["SPEAKER_01", "SPEAKER_00"]


def test_over_the_speaker_limit_a_new_voice_joins_the_closest_speaker() -> None:
    chunks = [_chunk(0, "A", "B"), _chunk(10, "C")]
    turns = link_speakers(chunks, max_distance=0.3, max_speakers=2)
    assert {t.speaker for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    c = np.asarray(_profile("x", "C").mean_embedding)
    closest = max("AB", key=lambda v: float(c @ np.asarray(_profile("y", v).mean_embedding)))
    assert turns[2].speaker == turns["AB".index(closest)].speaker


def test_a_voice_heard_too_briefly_in_its_chunk_joins_the_closest_speaker() -> None:
    brief = ChunkDiarization(
        (SpeakerTurn(10, 11.5, "SPEAKER_00"),), (_profile("SPEAKER_00", "C", windows=2),)
    )
    turns = link_speakers([_chunk(0, "A", "B"), brief], max_distance=0.3, min_new_speaker_seconds=2.0)
    assert turns[2].speaker in {"SPEAKER_00", "SPEAKER_01"}
    turns = link_speakers([_chunk(0, "A", "B"), brief], max_distance=0.3, min_new_speaker_seconds=1.0)
    assert turns[2].speaker == "SPEAKER_02"


def test_a_turn_without_a_voice_profile_is_refused() -> None:
    chunk = ChunkDiarization((SpeakerTurn(0, 1, "SPEAKER_07"),), (_profile("SPEAKER_00", "A"),))
    with pytest.raises(ValueError, match="SPEAKER_07"):
        link_speakers([chunk], max_distance=0.3)


def test_the_speaker_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_speakers"):
        link_speakers([], max_distance=0.3, max_speakers=0)
