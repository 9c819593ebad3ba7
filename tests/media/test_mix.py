"""mix: clips land where the plan says, stretched and gained, over a ducked original or a background,
at the target loudness, in the original's format and length."""

from __future__ import annotations

import array
import logging
import math
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from dubkit.errors import ConfigError
from dubkit.media import FFmpeg, MixOptions, measure_loudness, mix, read_wav_info
from dubkit.media.mix import DuckingOptions
from dubkit.models.media import AudioFile
from dubkit.models.speech import Clip, ClipTiming, TimingPlan, Voice

VOICE = Voice("es", "es")


def _beep(path: Path, freq: float, seconds: float, amplitude: float, rate: int = 16000) -> Path:
    """A mono 16-bit sine WAV written with the standard library (fast, for many distinct clips)."""
    frames = array.array(
        "h",
        (
            round(amplitude * 32767 * math.sin(2 * math.pi * freq * n / rate))
            for n in range(round(seconds * rate))
        ),
    )
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(frames.tobytes())
    return path


def _clip(segment: str, path: Path) -> Clip:
    info = read_wav_info(path)
    return Clip(segment, path, info.duration, info.sample_rate, VOICE, segment)


@pytest.fixture
def bed(tmp_path: Path, make_media: Callable[..., Path]) -> AudioFile:
    """6 s of quiet stereo pink noise at 48 kHz: the original audio."""
    path = make_media(
        tmp_path / "original.wav",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=d=6:c=pink:r=48000:a=0.05",
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
    )
    return read_wav_info(path)


def test_clips_land_on_time_at_the_target_loudness(
    bed: AudioFile,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    tone_level: Callable[..., float],
) -> None:
    clips = [
        _clip("a", sine_wav("a.wav", 1000, 0.6)),
        _clip("b", sine_wav("b.wav", 1500, 1.0)),
        _clip("c", sine_wav("c.wav", 2500, 0.5)),
    ]
    plan = TimingPlan(
        (
            ClipTiming("a", start=1.0, end=1.6),
            ClipTiming("b", start=3.0, end=3.5, stretch=2.0),  # plays twice as fast: 0.5 s
            ClipTiming("c", start=4.5, end=5.0, gain_db=-12.0),
        )
    )
    dubbed = mix(plan, clips, original=bed, out_path=tmp_path / "out" / "dub.wav", ffmpeg=ffmpeg)

    track = dubbed.track
    assert (track.sample_rate, track.channels, track.channel_layout) == (48000, 2, "stereo")
    assert round(track.duration * 48000) == round(bed.duration * 48000)  # to the sample
    measured = measure_loudness(track.path, ffmpeg=ffmpeg).integrated
    assert measured == pytest.approx(-16.0, abs=1.0)
    assert dubbed.loudness_lufs is not None
    assert dubbed.loudness_lufs == pytest.approx(measured, abs=0.3)  # reported = measured

    out = track.path
    assert tone_level(out, 1000, 1.05, 1.55) > 20 * tone_level(out, 1000, 2.0, 2.5)
    assert tone_level(out, 1000, 1.05, 1.55) > 20 * tone_level(out, 1000, 0.3, 0.8)
    assert tone_level(out, 1500, 3.05, 3.45) > 20 * tone_level(out, 1500, 3.6, 4.0)  # stretched: over by 3.5
    assert tone_level(out, 1500, 3.05, 3.45) > 20 * tone_level(out, 1500, 2.4, 2.9)
    # gain: clip c was as loud as a at the source, 12 dB lower in the plan
    ratio = tone_level(out, 2500, 4.55, 4.95) / tone_level(out, 1000, 1.05, 1.45)
    assert ratio == pytest.approx(10 ** (-12 / 20), rel=0.25)
    assert sorted(p.name for p in out.parent.iterdir()) == ["dub.wav"]  # temp files gone


def _ducking_ratio(
    bed: AudioFile,
    background: AudioFile | None,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    tone_level: Callable[..., float],
) -> float:
    clip = _clip("a", sine_wav("a.wav", 3000, 1.5))
    dubbed = mix(
        TimingPlan((ClipTiming("a", start=2.0, end=3.5),)),
        [clip],
        original=bed,
        background=background,
        out_path=tmp_path / "dub.wav",
        ffmpeg=ffmpeg,
    )
    out = dubbed.track.path
    return tone_level(out, 200, 2.4, 3.4) / tone_level(out, 200, 4.5, 5.5)


def test_original_is_ducked_under_the_dub(
    tmp_path: Path,
    ffmpeg: FFmpeg,
    make_media: Callable[..., Path],
    sine_wav: Callable[..., Path],
    tone_level: Callable[..., float],
) -> None:
    tone = read_wav_info(
        make_media(
            tmp_path / "tone.wav",
            "-f",
            "lavfi",
            "-i",
            "sine=f=200:d=6:r=48000",
            "-ac",
            "2",
            "-c:a",
            "pcm_s16le",
        )
    )
    ducked = _ducking_ratio(tone, None, tmp_path, ffmpeg, sine_wav, tone_level)
    assert 10 ** (-16 / 20) < ducked < 10 ** (-8 / 20)  # about 12 dB down while the dub plays
    kept = _ducking_ratio(tone, tone, tmp_path, ffmpeg, sine_wav, tone_level)
    assert kept == pytest.approx(1.0, abs=0.1)  # a separated background plays on untouched


def test_a_separated_voice_is_taken_out_under_the_dub_and_the_rest_plays_on(
    tmp_path: Path,
    ffmpeg: FFmpeg,
    make_media: Callable[..., Path],
    sine_wav: Callable[..., Path],
    tone_level: Callable[..., float],
) -> None:
    def tones(name: str, *freqs: int) -> AudioFile:
        sources = [a for f in freqs for a in ("-f", "lavfi", "-i", f"sine=f={f}:d=6:r=48000")]
        mixed = f"amix=inputs={len(freqs)}:normalize=0" if len(freqs) > 1 else "anull"
        return read_wav_info(
            make_media(tmp_path / name, *sources, "-filter_complex", mixed, "-ac", "2", "-c:a", "pcm_s16le")
        )

    # The original is a "voice" at 200 Hz over "music" at 700 Hz; the stems are the two parts.
    original, voice, background = tones("original.wav", 200, 700), tones("v.wav", 200), tones("b.wav", 700)
    clip = _clip("a", sine_wav("a.wav", 3000, 1.5))
    options = MixOptions(ducking=DuckingOptions(voice_depth_db=30.0, background_depth_db=6.0))
    out = mix(
        TimingPlan((ClipTiming("a", start=2.0, end=3.5),)),
        [clip],
        original=original,
        background=background,
        voice=voice,
        out_path=tmp_path / "dub.wav",
        options=options,
        ffmpeg=ffmpeg,
    ).track.path

    def drop_db(freq: int) -> float:
        return 20 * math.log10(tone_level(out, freq, 2.4, 3.4) / tone_level(out, freq, 4.5, 5.5))

    assert drop_db(200) < -25.0  # the original voice is gone under the dub
    assert drop_db(700) == pytest.approx(-6.0, abs=1.0)  # the music goes down by the background's depth
    # Between lines the bed is the original as it was: both parts at their own levels.
    for start in (0.5, 4.5):
        ratio = tone_level(out, 200, start, start + 1) / tone_level(out, 700, start, start + 1)
        assert ratio == pytest.approx(1.0, abs=0.02)
    # Without a voice stem the background alone is the bed, as before.
    alone = mix(
        TimingPlan((ClipTiming("a", start=2.0, end=3.5),)),
        [clip],
        original=original,
        background=background,
        out_path=tmp_path / "alone.wav",
        ffmpeg=ffmpeg,
    ).track.path
    assert tone_level(alone, 200, 0.5, 1.5) < 0.01 * tone_level(alone, 700, 0.5, 1.5)


def test_surround_keeps_its_layout(
    tmp_path: Path,
    ffmpeg: FFmpeg,
    make_media: Callable[..., Path],
    sine_wav: Callable[..., Path],
    rms: Callable[..., float],
) -> None:
    original = read_wav_info(
        make_media(
            tmp_path / "surround.wav",
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=d=3:r=48000:a=0.01",
            "-af",
            "aformat=channel_layouts=5.1",
            "-c:a",
            "pcm_s16le",
        )
    )
    clip = _clip("a", sine_wav("a.wav", 700, 1.0))
    dubbed = mix(
        TimingPlan((ClipTiming("a", start=1.0, end=2.0),)),
        [clip],
        original=original,
        out_path=tmp_path / "dub.wav",
        ffmpeg=ffmpeg,
    )
    assert (dubbed.track.channels, dubbed.track.channel_layout, dubbed.track.sample_rate) == (6, "5.1", 48000)
    centre = rms(dubbed.track.path, 1.2, 1.8, channel=2)
    assert centre > 5 * rms(dubbed.track.path, 2.3, 2.9, channel=2)  # the mono voice goes to the centre
    assert centre > 5 * rms(dubbed.track.path, 1.2, 1.8, channel=0)


def test_hundreds_of_clips(
    tmp_path: Path,
    ffmpeg: FFmpeg,
    make_media: Callable[..., Path],
    sine_wav: Callable[..., Path],
    tone_level: Callable[..., float],
) -> None:
    original = read_wav_info(
        make_media(
            tmp_path / "long.wav", "-f", "lavfi", "-i", "anoisesrc=d=40:r=44100:a=0.02", "-c:a", "pcm_s16le"
        )
    )
    count = 300
    clips = [
        _clip(f"seg-{i:04d}", _beep(tmp_path / f"beep{i}.wav", 1200, 0.08, 0.3 + i / 1000))
        for i in range(count)
    ]
    timings = tuple(  # every fifth clip overlaps its neighbour, so there are two layers
        ClipTiming(f"seg-{i:04d}", start=0.5 + i * 0.13 - (0.05 if i % 5 == 0 else 0.0), end=0.0)
        for i in range(count)
    )
    dubbed = mix(
        TimingPlan(timings),
        clips,
        original=original,
        out_path=tmp_path / "dub.wav",
        ffmpeg=ffmpeg,
        options=MixOptions(stretch_engine="atempo"),
    )
    assert round(dubbed.track.duration * 44100) == round(original.duration * 44100)
    out = dubbed.track.path
    assert tone_level(out, 1200, 0.5 + 101 * 0.13, 0.5 + 101 * 0.13 + 0.07) > 5 * tone_level(
        out, 1200, 39.5, 39.9
    )


def test_clips_past_the_end(
    bed: AudioFile,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clips = [_clip("late", sine_wav("a.wav", 900, 1.0)), _clip("edge", sine_wav("b.wav", 900, 1.0))]
    plan = TimingPlan((ClipTiming("late", start=7.0, end=8.0), ClipTiming("edge", start=5.5, end=6.5)))
    with caplog.at_level(logging.WARNING, logger="dubkit"):
        dubbed = mix(plan, clips, original=bed, out_path=tmp_path / "dub.wav", ffmpeg=ffmpeg)
    assert "late" in caplog.text
    assert round(dubbed.track.duration * 48000) == round(bed.duration * 48000)


def test_silence_in_silence_out(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    silent = read_wav_info(
        make_media(
            tmp_path / "silent.wav",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=16000:cl=mono",
            "-t",
            "2",
            "-c:a",
            "pcm_s16le",
        )
    )
    dubbed = mix(TimingPlan(), [], original=silent, out_path=tmp_path / "dub.wav", ffmpeg=ffmpeg)
    assert dubbed.loudness_lufs is None
    assert dubbed.track.duration == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("timing", "options", "target"),
    [
        (ClipTiming("missing", 1.0, 2.0), None, -16.0),
        (ClipTiming("a", -1.0, 0.0), None, -16.0),
        (ClipTiming("a", 1.0, 2.0, stretch=0.0), None, -16.0),
        (ClipTiming("a", 1.0, 2.0, gain_db=99), None, -16.0),
        (ClipTiming("a", 1.0, 2.0), MixOptions(codec="mp3"), -16.0),
        (ClipTiming("a", 1.0, 2.0), None, 3.0),
    ],
)
def test_bad_plans(
    bed: AudioFile,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    timing: ClipTiming,
    options: MixOptions | None,
    target: float,
) -> None:
    with pytest.raises(ConfigError):
        mix(
            TimingPlan((timing,)),
            [_clip("a", sine_wav("a.wav", 900, 0.5))],
            original=bed,
            out_path=tmp_path / "dub.wav",
            target_lufs=target,
            options=options,
            ffmpeg=ffmpeg,
        )
    assert not (tmp_path / "dub.wav").exists()
