"""Resemblyzer's encoder in numpy against resemblyzer's own torch module, on real weights and speech."""

from __future__ import annotations

import sys
import warnings
import wave
from pathlib import Path

import attrs
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("resemblyzer")
librosa_filters = pytest.importorskip("librosa.filters")

from dubkit.backends import resemblyzer_encoder
from dubkit.backends.resemblyzer_diarizer import _mel_frames
from dubkit.backends.resemblyzer_encoder import (
    load_speaker_encoder,
    mel_filter_bank,
    packaged_weights,
    partial_slices,
)
from dubkit.errors import BackendUnavailableError

pytestmark = pytest.mark.models


def voice_encoder_class():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

    return VoiceEncoder


def partial_mels(path: Path) -> np.ndarray:
    """The 1.6 s partial mel spectrograms of a whole clip, every 0.4 s."""
    with wave.open(str(path), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768
    wav_slices, mel_slices = partial_slices(len(samples), 2.5, 0.5)
    padded = np.pad(samples, (0, max(0, wav_slices[-1].stop - len(samples))))
    mel = _mel_frames(padded, mel_filter_bank(16000, 400, 40))
    return np.stack([mel[s] for s in mel_slices])


def test_embeddings_match_resemblyzers_torch_module(dialogue_clip, tmp_path: Path) -> None:
    mels = partial_mels(dialogue_clip.audio.path)
    assert len(mels) > 20
    with torch.inference_mode():
        expected = voice_encoder_class()("cpu", verbose=False)(torch.from_numpy(mels)).numpy()
    got = load_speaker_encoder(tmp_path)(mels)
    assert got.shape == expected.shape == (len(mels), 256)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert float(np.abs(got - expected).max()) < 1e-5


def test_two_threads_give_one_threads_embeddings(dialogue_clip, tmp_path: Path) -> None:
    """The batch is cut across two threads by default; one thread gives the same embeddings (1e-5)."""
    mels = partial_mels(dialogue_clip.audio.path)
    encoder = load_speaker_encoder(tmp_path)
    assert encoder.workers == 2 and len(mels) >= 32  # so the batch is split
    one = attrs.evolve(encoder, workers=1)(mels)
    np.testing.assert_allclose(encoder(mels), one, atol=1e-5, rtol=0)


def test_converts_once_then_loads_only_the_npz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = load_speaker_encoder(tmp_path)
    (cached,) = tmp_path.glob("encoder-*.npz")
    assert not [p for p in tmp_path.iterdir() if p != cached]  # no temp file left behind

    def fail(source: Path) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(resemblyzer_encoder, "_convert", fail)
    again = load_speaker_encoder(tmp_path)
    for a, b in zip(first.layers, again.layers, strict=True):
        assert np.array_equal(a.weight_hh, b.weight_hh)
    # the cache key is the weights file's hash: other weights would not reuse this file
    assert cached.name == f"encoder-{resemblyzer_encoder._sha256(packaged_weights())[:16]}.npz"


def test_a_damaged_cache_file_is_converted_again(tmp_path: Path) -> None:
    load_speaker_encoder(tmp_path)
    (cached,) = tmp_path.glob("encoder-*.npz")
    cached.write_bytes(b"not an npz")
    load_speaker_encoder(tmp_path)
    assert np.load(cached)["linear.weight"].shape == (256, 256)


def test_converting_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(BackendUnavailableError, match=r"needs torch once") as caught:
        load_speaker_encoder(tmp_path)
    assert "dubkit[diarize]" in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_the_mel_filter_bank_is_librosas() -> None:
    expected = librosa_filters.mel(sr=16000, n_fft=400, n_mels=40)
    got = mel_filter_bank(16000, 400, 40)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-7, rtol=0)


@pytest.mark.parametrize("n_samples", [0, 1, 160, 8000, 25599, 25600, 25601, 40000, 123457])
@pytest.mark.parametrize("rate", [1 / 0.75, 1.3, 2.5, 50.0])
def test_partial_slices_are_resemblyzers(n_samples: int, rate: float) -> None:
    wav_slices, mel_slices = voice_encoder_class().compute_partial_slices(n_samples, rate, 0.5)
    got_wav, got_mel = partial_slices(n_samples, rate, 0.5)
    assert [(s.start, s.stop) for s in got_wav] == [(int(s.start), int(s.stop)) for s in wav_slices]
    assert [(s.start, s.stop) for s in got_mel] == [(int(s.start), int(s.stop)) for s in mel_slices]
