"""Silero VAD with the model that ships in the silero-vad package."""

from __future__ import annotations

import itertools
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from dubkit.errors import BackendRuntimeError, CancelledError, ConfigError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion
from dubkit.testing.conformance import check_backend

torch = pytest.importorskip("torch")
silero_vad = pytest.importorskip("silero_vad")

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


@pytest.mark.parametrize("clip", ["english_clip", "dialogue_clip"])
def test_the_same_regions_as_silero_vads_own_pipeline(vad, clip: str, request: pytest.FixtureRequest) -> None:
    """The package's load_silero_vad(onnx=True) + get_speech_timestamps, sample for sample."""
    import numpy as np

    spoken = request.getfixturevalue(clip)
    with wave.open(str(spoken.audio.path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    threads = torch.get_num_threads()
    try:
        stamps = silero_vad.get_speech_timestamps(
            torch.from_numpy(samples), silero_vad.load_silero_vad(onnx=True), sampling_rate=16000
        )
    finally:
        torch.set_num_threads(threads)
    expected = [SpeechRegion(s["start"] / 16000, s["end"] / 16000) for s in stamps]
    assert len(expected) == len(spoken.lines)
    assert vad.detect(spoken.audio) == expected


def test_finds_nothing_in_silence_and_noise(vad, noise_clip) -> None:
    assert vad.detect(noise_clip) == []


def test_reading_in_small_blocks_changes_nothing(vad, dialogue_clip) -> None:
    small = SileroVAD(SileroVAD.Options(block_seconds=0.7))  # not a multiple of the 512-sample window
    assert small.detect(dialogue_clip.audio) == vad.detect(dialogue_clip.audio)


def test_streaming_reports_the_fraction_read_after_each_block(dialogue_clip) -> None:
    audio = dialogue_clip.audio
    with SileroVAD(SileroVAD.Options(block_seconds=2.0)) as blocks:
        reported: list[float] = []
        streamed = blocks.detect_streaming(audio, reported.append)
        assert streamed == blocks.detect(audio)
    assert len(reported) >= int(audio.duration / 2.0)  # one report per 2 s block, then the end
    assert all(a <= b for a, b in itertools.pairwise(reported))
    assert reported[0] == pytest.approx(2.0 / audio.duration, abs=0.01)
    assert reported[-1] == 1.0


def test_a_progress_callback_that_raises_stops_the_pass(dialogue_clip) -> None:
    """The vad stage cancels through the callback: its error comes out as it is, after one block."""
    calls: list[float] = []

    def cancel(fraction: float) -> None:
        calls.append(fraction)
        raise CancelledError("vad")

    with SileroVAD(SileroVAD.Options(block_seconds=2.0)) as blocks, pytest.raises(CancelledError):
        blocks.detect_streaming(dialogue_clip.audio, cancel)
    assert len(calls) == 1


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


def test_detecting_with_onnx_imports_neither_torch_nor_silero_vad(english_clip) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dubkit.backends.silero import SileroVAD\n"
        "from dubkit.models.media import AudioFile\n"
        f"audio = AudioFile(path=Path({str(english_clip.audio.path)!r}), sample_rate=16000, channels=1,"
        f" duration={english_clip.audio.duration})\n"
        "assert len(SileroVAD().detect(audio)) == 2\n"
        "heavy = [m for m in ('torch', 'silero_vad') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_model_file_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.machinery
    import importlib.util

    from dubkit.backends import silero
    from dubkit.errors import BackendUnavailableError

    empty = importlib.machinery.ModuleSpec("silero_vad", None, is_package=True)
    empty.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: empty if name == "silero_vad" else None)
    with pytest.raises(BackendUnavailableError, match="silero-vad"):
        silero._packaged_onnx_model()


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


# --- the sequence model ----------------------------------------------------------------------------


def _window_probabilities(clip_audio: AudioFile, **options: object) -> list[float]:
    with SileroVAD(SileroVAD.Options(**options)) as backend:  # type: ignore[arg-type]
        backend.load()
        probabilities, _, _ = backend._probabilities(clip_audio, lambda fraction: None)
    return probabilities


@pytest.mark.parametrize(("block_seconds", "per_call"), [(600.0, 512), (600.0, 100), (0.7, 100), (5.0, 37)])
def test_the_sequence_model_gives_the_window_models_probabilities_bit_for_bit(
    dialogue_clip, monkeypatch: pytest.MonkeyPatch, block_seconds: float, per_call: int
) -> None:
    """Real speech, read whole or in blocks that cut calls and windows anywhere: the very same floats."""
    from dubkit.backends import silero

    by_window = _window_probabilities(dialogue_clip.audio, sequence=False)
    monkeypatch.setattr(silero, "_SEQUENCE_WINDOWS", per_call)
    by_sequence = _window_probabilities(dialogue_clip.audio, sequence=True, block_seconds=block_seconds)
    assert len(by_sequence) == len(by_window) > 400
    assert by_sequence == by_window
    assert max(by_window) > 0.9 and min(by_window) < 0.1  # speech and silence both there


def test_the_sequence_model_is_the_default_when_the_package_ships_it(dialogue_clip) -> None:
    with SileroVAD() as backend:
        regions = backend.detect(dialogue_clip.audio)
        assert backend._sequence_session is not None
        assert backend._session is None  # the one-window model is not even loaded for 16 kHz audio
    with SileroVAD(SileroVAD.Options(sequence=False)) as backend:
        assert backend.detect(dialogue_clip.audio) == regions
        assert backend._sequence_session is None


def test_8khz_audio_goes_window_by_window(dialogue_clip, tmp_path: Path) -> None:
    import numpy as np

    with wave.open(str(dialogue_clip.audio.path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    path = tmp_path / "8k.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(((samples[0::2].astype(np.int32) + samples[1::2]) // 2).astype("<i2").tobytes())
    audio = AudioFile(path=path, sample_rate=8000, channels=1, duration=dialogue_clip.audio.duration)
    with SileroVAD() as default, SileroVAD(SileroVAD.Options(sequence=False)) as windows:
        got = default.detect(audio)
        assert got == windows.detect(audio)
        assert default._session is not None  # loaded when the 8 kHz file came
    assert len(got) == len(dialogue_clip.lines)


def test_without_the_sequence_model_file(monkeypatch: pytest.MonkeyPatch, dialogue_clip) -> None:
    from dubkit.backends import silero
    from dubkit.errors import BackendUnavailableError

    monkeypatch.setattr(silero, "_SEQUENCE_FILE", "not-shipped.onnx")  # an older silero-vad
    with SileroVAD() as backend:
        regions = backend.detect(dialogue_clip.audio)
        assert backend._sequence_session is None
    assert len(regions) == len(dialogue_clip.lines)
    with pytest.raises(BackendUnavailableError, match="not-shipped"):
        SileroVAD(SileroVAD.Options(sequence=True)).load()
