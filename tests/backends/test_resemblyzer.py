"""The resemblyzer diarizer on two espeak-ng voices taking turns (real encoder weights)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dubkit.errors import ConfigError
from dubkit.models.speech import SpeechRegion
from dubkit.testing.conformance import check_backend

pytest.importorskip("torch")
pytest.importorskip("resemblyzer")

from dubkit.backends.resemblyzer_diarizer import ResemblyzerDiarizer

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def diarizer():
    with ResemblyzerDiarizer() as backend:
        yield backend


def regions_of(clip, pad: float = 0.1) -> list[SpeechRegion]:
    return [SpeechRegion(max(0.0, line.start - pad), line.end + pad) for line in clip.lines]


def speaker_of(turns, start: float, end: float) -> str | None:
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    return max(overlap, key=overlap.__getitem__) if overlap else None


def test_two_voices_give_two_speakers_that_follow_the_turns(diarizer, dialogue_clip) -> None:
    regions = regions_of(dialogue_clip)
    turns = diarizer.diarize(dialogue_clip.audio, regions)
    assert {t.speaker for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert turns[0].speaker == "SPEAKER_00"  # labels in order of first appearance
    by_voice: dict[str, set[str | None]] = {}
    for line in dialogue_clip.lines:
        by_voice.setdefault(line.voice, set()).add(speaker_of(turns, line.start, line.end))
    assert by_voice == {"en+m3": {"SPEAKER_00"}, "en+f4": {"SPEAKER_01"}}
    # every turn lies inside a region, in time order
    assert all(any(r.start <= t.start < t.end <= r.end for r in regions) for t in turns)
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    covered = sum(t.duration for t in turns)
    assert covered == pytest.approx(sum(r.duration for r in regions), abs=0.05)


@pytest.mark.parametrize(
    ("options", "clip", "speakers"),
    [
        (ResemblyzerDiarizer.Options(num_speakers=1), "dialogue_clip", 1),
        (ResemblyzerDiarizer.Options(max_speakers=1), "dialogue_clip", 1),
        # one voice forced into two clusters (min_turn=0: no smoothing absorbs the second)
        (ResemblyzerDiarizer.Options(min_speakers=2, min_turn=0.0), "english_clip", 2),
        (
            ResemblyzerDiarizer.Options(max_windows=6),
            "dialogue_clip",
            2,
        ),  # clusters a sample, assigns the rest
    ],
)
def test_speaker_count_options(options, clip: str, speakers: int, request: pytest.FixtureRequest) -> None:
    spoken = request.getfixturevalue(clip)
    with ResemblyzerDiarizer(options) as backend:
        turns = backend.diarize(spoken.audio, regions_of(spoken))
    assert len({t.speaker for t in turns}) == speakers
    if clip == "dialogue_clip" and speakers == 2:
        labels = [speaker_of(turns, line.start, line.end) for line in spoken.lines]
        assert labels == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00", "SPEAKER_01"]


@pytest.mark.parametrize("clip", ["dialogue_clip", "english_clip"])
def test_the_numpy_encoder_gives_the_turns_of_resemblyzers_torch_module(
    diarizer, clip: str, request: pytest.FixtureRequest
) -> None:
    spoken = request.getfixturevalue(clip)
    with ResemblyzerDiarizer(ResemblyzerDiarizer.Options(device="cpu")) as on_torch:
        expected = on_torch.diarize(spoken.audio, regions_of(spoken))
        assert on_torch._torch is not None  # really the torch module
    assert diarizer._torch is None
    assert diarizer.diarize(spoken.audio, regions_of(spoken)) == expected


def test_a_chunk_gives_its_turns_and_one_voice_profile_per_speaker(diarizer, dialogue_clip) -> None:
    regions = regions_of(dialogue_clip)
    chunk = diarizer.diarize_chunk(dialogue_clip.audio, regions)
    assert list(chunk.turns) == list(diarizer.diarize(dialogue_clip.audio, regions))
    assert [v.speaker for v in chunk.voices] == ["SPEAKER_00", "SPEAKER_01"]
    m3, f4 = (np.asarray(v.mean_embedding) for v in chunk.voices)
    # The mean of unit vectors: shorter than 1; 1 - a @ b is the average distance between the voices.
    assert 0.5 < np.linalg.norm(m3) < 1.0
    between_voices = 1.0 - float(m3 @ f4)
    assert between_voices > diarizer.link_distance, "two voices would be linked as one speaker"
    # The same voice heard in another chunk (only its own lines) is within the link distance of itself.
    m3_lines = [r for r, line in zip(regions, dialogue_clip.lines, strict=True) if line.voice == "en+m3"]
    alone = diarizer.diarize_chunk(dialogue_clip.audio, m3_lines)
    assert [v.speaker for v in alone.voices] == ["SPEAKER_00"]
    same_voice = 1.0 - float(m3 @ np.asarray(alone.voices[0].mean_embedding))
    assert same_voice < diarizer.link_distance, "one voice in two chunks would not be linked"
    assert sum(v.windows for v in chunk.voices) >= 2 * len(regions)


def test_in_a_chunk_a_given_speaker_count_is_only_a_limit(english_clip) -> None:
    with ResemblyzerDiarizer(ResemblyzerDiarizer.Options(num_speakers=2)) as backend:
        assert backend.speaker_limit == 2
        chunk = backend.diarize_chunk(english_clip.audio, regions_of(english_clip))  # one voice
        whole = backend.diarize(english_clip.audio, regions_of(english_clip))
    assert [v.speaker for v in chunk.voices] == ["SPEAKER_00"]
    assert {t.speaker for t in whole} == {"SPEAKER_00", "SPEAKER_01"}  # the whole input: exactly two


def test_no_regions_no_turns(diarizer, dialogue_clip) -> None:
    assert diarizer.diarize(dialogue_clip.audio, []) == []


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        ResemblyzerDiarizer.Options(min_speakers=3, max_speakers=2)
    with pytest.raises(ConfigError):
        ResemblyzerDiarizer.Options(hop=0)


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.resemblyzer_diarizer import ResemblyzerDiarizer\n"
        "ResemblyzerDiarizer(ResemblyzerDiarizer.Options(num_speakers=2))\n"
        "heavy = [m for m in ('torch', 'resemblyzer', 'sklearn', 'librosa') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_conforms(tmp_path) -> None:
    check_backend("diarizer", ResemblyzerDiarizer, workdir=tmp_path)


def test_a_cluster_with_too_little_speech_joins_its_nearest_neighbour() -> None:
    import numpy as np

    from dubkit.backends.resemblyzer_diarizer import _merge_small_clusters, _Window

    windows = [_Window(float(i), float(i) + 0.75) for i in range(7)]
    # Two clear speakers (A near e0, B near e1) and one stray short window that leans towards B.
    emb = np.array([[1, 0, 0]] * 3 + [[0, 1, 0]] * 3 + [[0.1, 0.9, 0.4]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = [0, 0, 0, 1, 1, 1, 2]
    assert _merge_small_clusters(windows, labels, emb, 2.0, 1) == [0, 0, 0, 1, 1, 1, 1]
    # With enough speech the third cluster stays; and min_speakers is honoured.
    assert _merge_small_clusters(windows, labels, emb, 0.5, 1) == labels
    assert _merge_small_clusters(windows, labels, emb, 100.0, 2) == [0, 0, 0, 1, 1, 1, 1]
