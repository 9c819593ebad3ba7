"""The pyannote diarizer on a locally built pipeline.

The pipeline directory is laid out like ``pyannote/speaker-diarization-community-1`` (config.yaml,
segmentation, embedding, plda) with tiny random models, and loads through ``Pipeline.from_pretrained``:
the whole SpeakerDiarization pipeline runs (segmentation, embeddings, VBx clustering). The random
weights mean the speakers it finds are arbitrary, so the tests check structure, not who speaks.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dubkit.backends.protocols import BackendKind
from dubkit.backends.pyannote_diarizer import PyannoteDiarizer, _clip_to_regions
from dubkit.backends.registry import build_options
from dubkit.errors import BackendUnavailableError, ConfigError
from dubkit.models.speech import SpeakerTurn, SpeechRegion
from dubkit.testing import check_backend, write_tone_wav


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


# Installed but broken (say, a torchaudio whose native library does not load) fails loudly instead.
needs_pyannote = pytest.mark.skipif(
    not _installed("pyannote.audio"), reason="pyannote.audio is not installed"
)


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.tiny_models import pyannote_pipeline

    return pyannote_pipeline(tmp_path_factory.mktemp("pyannote") / "pipeline")


@pytest.fixture(scope="module")
def diarizer(pipeline_dir: Path) -> PyannoteDiarizer:
    backend = PyannoteDiarizer(PyannoteDiarizer.Options(pipeline=str(pipeline_dir)))
    backend.load()
    return backend


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.pyannote_diarizer import PyannoteDiarizer as P\n"
        "P(P.Options(pipeline='/x', num_speakers=2, token='secret'))\n"
        "heavy = [m for m in ('torch', 'pyannote', 'torchaudio', 'lightning') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options() -> None:
    opts = build_options(BackendKind.DIARIZER, "pyannote", PyannoteDiarizer.Options, {"max_speakers": 3})
    assert opts.max_speakers == 3 and opts.telemetry is False
    assert "secret" not in repr(PyannoteDiarizer.Options(token="secret"))
    with pytest.raises(ConfigError):
        PyannoteDiarizer.Options(num_speakers=0)
    with pytest.raises(ConfigError):
        PyannoteDiarizer.Options(min_speakers=3, max_speakers=2)


def test_turns_are_clipped_to_regions_and_gaps_filled() -> None:
    turns = [(0.0, 1.0, "SPEAKER_00"), (2.0, 3.0, "SPEAKER_01")]
    regions = [SpeechRegion(0.5, 2.5), SpeechRegion(4.0, 5.0)]
    assert _clip_to_regions(turns, regions, fill=False) == [
        SpeakerTurn(0.5, 1.0, "SPEAKER_00"),
        SpeakerTurn(2.0, 2.5, "SPEAKER_01"),
    ]
    assert _clip_to_regions(turns, regions, fill=True) == [
        SpeakerTurn(0.5, 1.0, "SPEAKER_00"),
        SpeakerTurn(1.0, 2.0, "SPEAKER_00"),  # the gap's middle is as near to both turns: the first wins
        SpeakerTurn(2.0, 2.5, "SPEAKER_01"),
        SpeakerTurn(4.0, 5.0, "SPEAKER_01"),  # a region no turn touches goes to the nearest speaker
    ]
    assert _clip_to_regions([], regions, fill=True) == []


@needs_pyannote
def test_diarizes_a_waveform_in_memory(diarizer: PyannoteDiarizer, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=6.0)
    regions = [SpeechRegion(0.0, 2.5), SpeechRegion(3.0, 6.0)]
    turns = diarizer.diarize(audio, regions)
    assert turns, "every region is covered (fill_gaps)"
    assert sum(t.duration for t in turns) == pytest.approx(5.5, abs=1e-6)
    for turn in turns:
        assert isinstance(turn, SpeakerTurn)
        assert any(r.start <= turn.start <= turn.end <= r.end for r in regions), turn
        assert turn.speaker.startswith("SPEAKER_")
    labels = list(dict.fromkeys(t.speaker for t in turns))
    assert labels == [f"SPEAKER_{i:02d}" for i in range(len(labels))], "labels numbered by first appearance"
    assert [t.start for t in turns] == sorted(t.start for t in turns)
    assert diarizer.diarize(audio, []) == []
    assert os.environ.get("PYANNOTE_METRICS_ENABLED") == "false", "pyannote telemetry is off"


@needs_pyannote
def test_speaker_count_options_reach_the_pipeline(pipeline_dir: Path, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "tone.wav", seconds=4.0)
    with PyannoteDiarizer(
        PyannoteDiarizer.Options(pipeline=str(pipeline_dir / "config.yaml"), num_speakers=1)
    ) as d:
        turns = d.diarize(audio, [SpeechRegion(0.0, 4.0)])
    assert {t.speaker for t in turns} <= {"SPEAKER_00"}


@needs_pyannote
def test_conforms(pipeline_dir: Path, tmp_path: Path) -> None:
    check_backend(
        "diarizer",
        lambda: PyannoteDiarizer(PyannoteDiarizer.Options(pipeline=str(pipeline_dir))),
        workdir=tmp_path,
    )


@needs_pyannote
def test_a_missing_pipeline_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    backend = PyannoteDiarizer(PyannoteDiarizer.Options(pipeline=str(tmp_path / "empty")))
    with pytest.raises(BackendUnavailableError):
        backend.load()
    assert not backend.loaded


def test_an_import_failure_carries_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # makes the import raise ImportError
    with pytest.raises(BackendUnavailableError) as info:
        PyannoteDiarizer().load()
    assert info.value.install == "pip install 'dubkit[pyannote]'"
