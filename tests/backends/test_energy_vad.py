from __future__ import annotations

from pathlib import Path

from dubkit.backends.energy_vad import EnergyVAD
from dubkit.testing import check_backend, write_tone_wav


def test_finds_the_tone_bursts(tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "a.wav", seconds=4.0)  # bursts at 0-0.5, 1-1.5, 2-2.5, 3-3.5
    regions = EnergyVAD(EnergyVAD.Options(min_silence=0.2, pad=0.0)).detect(audio)
    assert len(regions) == 4
    for region, expected in zip(regions, [0.0, 1.0, 2.0, 3.0], strict=True):
        assert abs(region.start - expected) < 0.05
        assert abs(region.end - (expected + 0.5)) < 0.05


def test_silence_and_a_steady_tone(tmp_path: Path) -> None:
    silent = write_tone_wav(tmp_path / "z.wav", seconds=2.0, frequency=0.0, bursts=False)
    steady = write_tone_wav(tmp_path / "s.wav", seconds=2.0, bursts=False)
    assert EnergyVAD().detect(silent) == []
    assert len(EnergyVAD().detect(steady)) <= 1


def test_conforms(tmp_path: Path) -> None:
    check_backend("vad", EnergyVAD, workdir=tmp_path)
