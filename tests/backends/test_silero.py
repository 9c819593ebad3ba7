"""Silero VAD with the model that ships in the silero-vad package."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from dubkit.errors import BackendRuntimeError, ConfigError
from dubkit.models.media import AudioFile
from dubkit.testing.conformance import check_backend

pytest.importorskip("torch")
pytest.importorskip("silero_vad")

from dubkit.backends.silero import SileroVAD

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def vad():
    with SileroVAD() as backend:
        yield backend


def test_finds_one_region_around_each_spoken_line(vad, dialogue_clip) -> None:
    regions = vad.detect(dialogue_clip.audio)
    assert len(regions) == len(dialogue_clip.lines)
    for region, line in zip(regions, dialogue_clip.lines, strict=True):
        assert abs(region.start - line.start) < 0.3
        assert abs(region.end - line.end) < 0.3
    assert all(a.end <= b.start for a, b in itertools.pairwise(regions))
    assert all(0.0 <= r.start < r.end <= dialogue_clip.audio.duration for r in regions)


def test_finds_nothing_in_silence_and_noise(vad, noise_clip) -> None:
    assert vad.detect(noise_clip) == []


def test_reading_in_small_blocks_changes_nothing(vad, dialogue_clip) -> None:
    small = SileroVAD(SileroVAD.Options(block_seconds=0.7))  # not a multiple of the 512-sample window
    assert small.detect(dialogue_clip.audio) == vad.detect(dialogue_clip.audio)


def test_the_torchscript_model_agrees(vad, english_clip) -> None:
    with SileroVAD(SileroVAD.Options(onnx=False)) as jit:
        got = jit.detect(english_clip.audio)
    expected = vad.detect(english_clip.audio)
    assert len(got) == len(expected) == len(english_clip.lines)
    for a, b in zip(got, expected, strict=True):
        assert abs(a.start - b.start) < 0.05
        assert abs(a.end - b.end) < 0.05


def test_options_shape_the_regions(dialogue_clip) -> None:
    merged = SileroVAD(SileroVAD.Options(min_silence_ms=2000)).detect(dialogue_clip.audio)
    assert len(merged) == 1  # pauses of 1.2 s no longer split
    with pytest.raises(ConfigError):
        SileroVAD.Options(threshold=1.5)


def test_unreadable_audio_is_a_backend_error(vad, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file")
    with pytest.raises(BackendRuntimeError):
        vad.detect(AudioFile(path=bad, sample_rate=16000, channels=1, duration=1.0))


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.silero import SileroVAD\n"
        "SileroVAD(SileroVAD.Options(threshold=0.4))\n"
        "heavy = [m for m in ('torch', 'silero_vad', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_conforms(tmp_path: Path) -> None:
    check_backend("vad", SileroVAD, workdir=tmp_path)
