from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dubkit.backends.demucs_separator import DemucsSeparator, WavReader, WavWriter
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import build_options
from dubkit.errors import BackendUnavailableError, CancelledError, CorruptMediaError
from dubkit.testing import check_backend, write_tone_wav

pytest.importorskip("demucs")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.tiny_models import demucs_model

    return demucs_model(tmp_path_factory.mktemp("demucs") / "tiny.th")


def fast(model: Path, **kw: Any) -> DemucsSeparator.Options:
    return DemucsSeparator.Options(model=str(model), shifts=0, **kw)


def read(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())
        return wav.getframerate(), wav.getnchannels(), data


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.demucs_separator import DemucsSeparator as D\n"
        "D(D.Options(model='htdemucs', chunk_seconds=30))\n"
        "heavy = [m for m in ('torch', 'demucs', 'julius') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_from_a_mapping() -> None:
    opts = build_options(
        BackendKind.SEPARATOR, "demucs", DemucsSeparator.Options, {"model": "htdemucs_ft", "shifts": 0}
    )
    assert (opts.model, opts.shifts, opts.voice_source) == ("htdemucs_ft", 0, "vocals")


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (48000, 1)])
def test_stems_keep_rate_channels_and_length(
    model_file: Path, tmp_path: Path, rate: int, channels: int
) -> None:
    audio = write_tone_wav(tmp_path / "in.wav", seconds=2.0, rate=rate, channels=channels)
    # Chunks of 0.8 s with 0.2 s cross-fades: the 2 s input goes through three chunks.
    with DemucsSeparator(fast(model_file, chunk_seconds=0.8, crossfade_seconds=0.2)) as sep:
        stems = sep.separate(audio, tmp_path / "stems")
    assert stems.separated
    assert stems.voice is not None and stems.background is not None
    for stem, name in ((stems.voice, "voice.wav"), (stems.background, "background.wav")):
        assert stem.path == tmp_path / "stems" / name
        got_rate, got_channels, data = read(stem.path)
        assert (got_rate, got_channels) == (rate, channels)
        assert (stem.sample_rate, stem.channels) == (rate, channels)
        assert data.shape[0] == int(2.0 * rate)
        assert stem.duration == pytest.approx(2.0)
        assert np.abs(data).max() > 0
    assert not list((tmp_path / "stems").glob("*.part"))


def test_chunks_channels_and_sources_add_up(model_file: Path, tmp_path: Path) -> None:
    """With a stand-in for the network whose sources are fixed fractions of the mix, the stems must be exactly
    those fractions: chunking, cross-fades, channel grouping and normalisation leave no trace."""
    import torch  # noqa: TID251

    def fractions(model: object, mix: torch.Tensor, **kw: object) -> torch.Tensor:
        return torch.stack([mix * w for w in (0.1, 0.2, 0.3, 0.4)], dim=1)  # drums, bass, other, vocals

    audio = write_tone_wav(tmp_path / "in.wav", seconds=2.0, rate=44100, channels=3)
    with DemucsSeparator(fast(model_file, chunk_seconds=0.5, crossfade_seconds=0.1)) as sep:
        sep._apply = fractions
        stems = sep.separate(audio, tmp_path / "stems")
    mix = read(audio.path)[2].astype(np.float64)
    assert stems.voice is not None and stems.background is not None
    voice = read(stems.voice.path)[2].astype(np.float64)
    background = read(stems.background.path)[2].astype(np.float64)
    assert voice.shape == background.shape == mix.shape
    np.testing.assert_allclose(voice, 0.4 * mix, atol=1.5)
    np.testing.assert_allclose(background, 0.6 * mix, atol=1.5)


def _separate(model: Path, audio: Path, out: Path, checkpoint: Path, kill_at: int) -> int | None:
    """Separate in a fresh process (see demucs_kill_worker.py): the chunks it separated, or None if killed."""
    worker = Path(__file__).with_name("demucs_kill_worker.py")
    argv = [sys.executable, str(worker), str(model), str(audio), str(out), str(checkpoint), str(kill_at)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode == -9:
        return None
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_a_separation_killed_half_way_resumes_after_its_last_finished_chunk(
    model_file: Path, tmp_path: Path
) -> None:
    audio = write_tone_wav(tmp_path / "in.wav", seconds=4.0, rate=44100, channels=2).path
    total = _separate(model_file, audio, tmp_path / "clean", tmp_path / "clean-checkpoint", 0)
    assert total is not None and total >= 5  # 0.8 s chunks in 0.6 s steps

    assert _separate(model_file, audio, tmp_path / "out", tmp_path / "checkpoint", 4) is None
    assert not (tmp_path / "out" / "voice.wav").exists()

    resumed = _separate(model_file, audio, tmp_path / "out", tmp_path / "checkpoint", 0)
    assert resumed == total - 3  # the three checkpointed chunks were not separated again
    for stem in ("voice.wav", "background.wav"):
        assert (tmp_path / "out" / stem).read_bytes() == (tmp_path / "clean" / stem).read_bytes()
    assert not list((tmp_path / "checkpoint").iterdir()), "a finished separation leaves nothing behind"


def test_a_cancel_stops_inside_a_chunk_and_leaves_no_partial_stems(model_file: Path, tmp_path: Path) -> None:
    audio = write_tone_wav(tmp_path / "in.wav", seconds=6.0, rate=44100, channels=2)
    separator = DemucsSeparator(fast(model_file))  # one 60 s chunk; the tiny model's segments are 1 s
    full: list[float] = []
    with separator:
        separator.separate_reporting(audio, tmp_path / "full", full.append)
        assert full == sorted(full) and full[0] == 0.0 and len(full) > 6  # reported inside the chunk

        seen: list[float] = []

        def cancel_half_way(fraction: float) -> None:
            seen.append(fraction)
            if fraction >= 0.5:
                raise CancelledError("separate")

        with pytest.raises(CancelledError):
            separator.separate_reporting(audio, tmp_path / "out", cancel_half_way)
        with pytest.raises(CancelledError):
            separator.separate_reporting(audio, tmp_path / "out2", cancel_half_way, tmp_path / "checkpoint")
    assert 0.5 <= seen[-1] < 1.0  # stopped inside the one chunk, at a segment of the model
    assert len(seen) < len(full) * 2
    assert not list((tmp_path / "out").iterdir())  # no partial stem left behind
    assert not list((tmp_path / "out2").iterdir())
    # a resumable separation keeps its partial files for the next attempt, where it always does
    kept = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    assert kept == ["background.wav.part", "voice.wav.part"]


def test_the_model_layers_report_while_a_segment_runs_and_a_cancel_stops_it_there(model_file: Path) -> None:
    import torch  # noqa: TID251

    from dubkit.backends.demucs_separator import _Reporter

    separator = DemucsSeparator(fast(model_file))
    separator.load()
    polls: list[float] = []
    reporter = _Reporter(polls.append, interval=0.0)
    hooks = reporter.hook(separator._model)
    segment = torch.zeros(1, 2, 44100)
    with torch.inference_mode():
        separator._model(segment)
    assert len(polls) > 10  # from inside the forward pass, layer by layer
    for hook in hooks:
        hook.remove()

    def cancel(fraction: float) -> None:
        raise CancelledError("separate")

    hooks = _Reporter(cancel, interval=0.0).hook(separator._model)
    with pytest.raises(CancelledError), torch.inference_mode():
        separator._model(segment)
    for hook in hooks:
        hook.remove()
    polls.clear()
    with torch.inference_mode():
        separator._model(segment)  # the hooks are gone with the call
    assert polls == []
    separator.close()


def test_a_checkpoint_of_another_input_is_not_resumed(model_file: Path, tmp_path: Path) -> None:
    first = write_tone_wav(tmp_path / "a.wav", seconds=3.0, rate=44100, channels=2, frequency=220.0).path
    second = write_tone_wav(tmp_path / "b.wav", seconds=3.0, rate=44100, channels=2, frequency=330.0).path
    assert _separate(model_file, first, tmp_path / "out", tmp_path / "checkpoint", 3) is None
    total = _separate(model_file, second, tmp_path / "fresh", tmp_path / "fresh-checkpoint", 0)
    resumed = _separate(model_file, second, tmp_path / "out", tmp_path / "checkpoint", 0)
    assert resumed == total  # every chunk of the new input was separated
    assert (tmp_path / "out" / "voice.wav").read_bytes() == (tmp_path / "fresh" / "voice.wav").read_bytes()


def test_loads_by_name_from_a_local_repo(model_file: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(model_file, repo / "tinysep.th")
    with DemucsSeparator(DemucsSeparator.Options(model="tinysep", repo=str(repo), shifts=0)) as sep:
        assert sep._model.sources[-1] == "vocals"
    bad = DemucsSeparator(DemucsSeparator.Options(model="nope", repo=str(repo)))
    with pytest.raises(BackendUnavailableError):
        bad.load()
    missing = DemucsSeparator(DemucsSeparator.Options(model="tinysep", repo=str(tmp_path / "absent")))
    with pytest.raises(BackendUnavailableError):
        missing.load()


def test_unknown_voice_source(model_file: Path) -> None:
    with pytest.raises(BackendUnavailableError) as info:
        DemucsSeparator(fast(model_file, voice_source="speech")).load()
    assert "speech" in info.value.reason


def test_conforms(model_file: Path, tmp_path: Path) -> None:
    check_backend("separator", lambda: DemucsSeparator(fast(model_file)), workdir=tmp_path)


def test_wav_reader_formats(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.uniform(-0.9, 0.9, size=(100, 3)).astype(np.float32)
    writer = WavWriter(tmp_path / "f.wav", 8000, 3, float32=True)
    writer.write(frames.T)
    writer.write(frames.T)
    f32 = writer.close()
    assert (f32.sample_rate, f32.channels, f32.duration) == (8000, 3, 200 / 8000)
    reader = WavReader(f32.path)
    assert reader.is_float and reader.frames == 200
    np.testing.assert_allclose(reader.read(100, 100), frames.T)
    assert reader.read(150, 500).shape == (3, 50)

    # 24-bit PCM in a WAVE_FORMAT_EXTENSIBLE header, as ffmpeg writes it.
    ints = np.round(frames * 2**23).astype(np.int32)
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints.reshape(-1))
    fmt = struct.pack("<HHIIHH", 0xFFFE, 3, 8000, 8000 * 9, 9, 24) + struct.pack("<HHI", 22, 24, 0)
    fmt += struct.pack("<H", 1) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(raw)) + raw
    (tmp_path / "i24.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    np.testing.assert_allclose(WavReader(tmp_path / "i24.wav").read(0, 100), frames.T, atol=1e-6)

    (tmp_path / "junk.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(CorruptMediaError):
        WavReader(tmp_path / "junk.wav")


def test_an_import_failure_carries_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "demucs.apply", None)  # makes the import raise ImportError
    with pytest.raises(BackendUnavailableError) as info:
        DemucsSeparator().load()
    assert info.value.install == "pip install 'dubkit[demucs]'"


def test_a_resumed_writer_cuts_off_frames_written_after_the_checkpoint(tmp_path: Path) -> None:
    partial = tmp_path / "checkpoint" / "voice.wav.part"
    first = WavWriter(tmp_path / "voice.wav", 8000, 1, partial=partial)
    first.write(np.full((1, 100), 0.25, dtype=np.float32))
    first.sync()  # the checkpoint counts 100 frames...
    first.write(np.full((1, 50), -0.5, dtype=np.float32))  # ...then the process dies mid-chunk
    first.abort(keep=True)
    resumed = WavWriter(tmp_path / "voice.wav", 8000, 1, partial=partial, resume_frames=100)
    resumed.write(np.full((1, 20), 0.5, dtype=np.float32))
    audio = resumed.close()
    rate, channels, data = read(audio.path)
    assert (rate, channels, data.shape[0]) == (8000, 1, 120)
    assert set(data[:100, 0].tolist()) == {round(0.25 * 32767)}
    assert set(data[100:, 0].tolist()) == {round(0.5 * 32767)}
    assert not partial.exists()
    with pytest.raises(ValueError, match="fewer than"):
        WavWriter(tmp_path / "x.wav", 8000, 1, partial=tmp_path / "x.part", resume_frames=10).close()
