"""Real human speech with transcripts, found in installed packages, and a test video built from it.

No media is committed: every recording comes from a package installed from a registry.

- ``pocketsphinx-testdata`` (Debian): five lines of a LibriVox audiobook (Sense and Sensibility, ch. 1,
  a male reader, 16 kHz), with the package's own transcripts (``librivox/transcription``).
- ``asterisk-core-sounds-en-wav`` and ``asterisk-core-sounds-en`` (Debian): Allison Smith's telephone
  prompts (a female voice, 8 kHz), with the package's own transcripts (``core-sounds-en.txt.gz``).
- ``pyannote.audio`` (PyPI): ``pyannote/audio/sample/sample.wav``, a 30 s two-person phone call (both
  female), with the package's own transcript (``sample.stm``).

`make_real_video` interleaves the reader and the prompts (male, female, male, ...) over generated music
and noise into a short video with ffmpeg; with ``call=True`` the phone call follows (four speakers).
"""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "Recording",
    "RealVideo",
    "VideoLine",
    "allison_prompts",
    "librivox_lines",
    "make_real_video",
    "missing_packages",
    "pyannote_call",
    "read_mono",
]

F32 = npt.NDArray[np.float32]

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
APT_PACKAGES = ("pocketsphinx-testdata", "asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")

#: Prompts picked for plain sentences of a few seconds each (their transcripts come from the package).
PROMPTS = (
    "tt-allbusy",
    "agent-alreadyon",
    "demo-nogo",
    "cannot-complete-as-dialed",
    "check-number-dial-again",
)


@attrs.frozen
class Recording:
    """One utterance of a real speaker.

    Attributes:
        path: The audio file (any format ffmpeg reads).
        text: What is said (from the package that ships the recording).
        speaker: Who says it.
        sex: ``m`` or ``f``.
        source: The package it comes from.
        raw_rate: For headerless 16-bit PCM files, their sample rate.
    """

    path: Path
    text: str
    speaker: str
    sex: str
    source: str
    raw_rate: int | None = None


def missing_packages() -> list[str]:
    """The packages `make_real_video` needs that are not installed (with how to install them)."""
    missing = []
    if not (POCKETSPHINX_DATA / "librivox" / "transcription").is_file():
        missing.append("apt-get install pocketsphinx-testdata")
    if not ASTERISK_SOUNDS.is_dir() or not ASTERISK_TRANSCRIPTS.is_file():
        missing.append("apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en")
    return missing


def librivox_lines() -> list[Recording]:
    """The audiobook lines of ``pocketsphinx-testdata`` with their transcripts, in order."""
    folder = POCKETSPHINX_DATA / "librivox"
    out = []
    for line in (folder / "transcription").read_text().splitlines():
        text, _, name = line.rpartition("(")
        words = text.replace("<s>", " ").replace("</s>", " ").split()
        out.append(
            Recording(
                folder / f"{name.strip(') ')}.wav",
                " ".join(words),
                "librivox-reader",
                "m",
                "pocketsphinx-testdata",
            )
        )
    return out


def allison_prompts(names: Sequence[str] = PROMPTS) -> list[Recording]:
    """Asterisk's prompts ``names`` with the package's transcripts."""
    transcripts = {}
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8") as handle:
        for line in handle:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";"):
                transcripts[name.strip()] = text.strip()
    return [
        Recording(
            ASTERISK_SOUNDS / f"{name}.wav", transcripts[name], "allison", "f", "asterisk-core-sounds-en"
        )
        for name in names
    ]


def pyannote_call() -> tuple[Path, list[tuple[float, float, str, str]]]:
    """pyannote.audio's sample call and its transcript: ``(path, [(start, end, speaker, text)])``."""
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyannote.audio is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "sample"
    lines = []
    for row in (folder / "sample.stm").read_text().splitlines():
        parts = row.split(maxsplit=5)
        lines.append((float(parts[3]), float(parts[4]), parts[2], parts[5] if len(parts) > 5 else ""))
    return folder / "sample.wav", lines


def read_mono(recording: Recording | Path, rate: int) -> F32:
    """A recording as mono float32 at ``rate`` (decoded by ffmpeg)."""
    path = recording.path if isinstance(recording, Recording) else recording
    raw = recording.raw_rate if isinstance(recording, Recording) else None
    head = ["-f", "s16le", "-ar", str(raw), "-ac", "1"] if raw else []
    pcm = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            *head,
            "-i",
            str(path),
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(pcm, dtype=np.float32).copy()


def music_bed(frames: int, rate: int, seed: int = 11) -> F32:
    """Generated music: chords of harmonic tones changing every two seconds, a soft beat, room noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    out = np.zeros(frames)
    roots = (110.0, 146.83, 130.81, 98.0, 123.47)
    step = 2 * rate
    for index in range(-(-frames // step)):
        span = slice(index * step, min(frames, (index + 1) * step))
        root = roots[index % len(roots)]
        for ratio in (1.0, 1.25, 1.5, 2.0):
            for harmonic in range(1, 7):
                out[span] += np.sin(2 * np.pi * root * ratio * harmonic * t[span]) / harmonic**1.5
    beat = np.exp(-((t % 0.5) / 0.04))  # a soft thump twice a second
    out += 2.0 * beat * np.sin(2 * np.pi * 60 * t)
    out /= np.sqrt(np.mean(out**2))
    out += 0.3 * rng.standard_normal(frames)  # room noise, 10 dB under the music
    return (out / np.sqrt(np.mean(out**2))).astype(np.float32)


@attrs.frozen
class VideoLine:
    """Where one recording sits in the video."""

    start: float
    end: float
    speaker: str
    sex: str
    text: str
    source: str


@attrs.frozen
class RealVideo:
    """The built video and what is said in it."""

    path: Path
    duration: float
    lines: tuple[VideoLine, ...]
    background_db: float | None

    @property
    def text(self) -> str:
        """Everything said, in order."""
        return " ".join(line.text for line in self.lines)


def make_real_video(
    path: Path,
    *,
    background_db: float | None = -12.0,
    pause: float = 0.8,
    lead: float = 1.0,
    speech_dbfs: float = -23.0,
    call: bool = False,
) -> RealVideo:
    """A short video of real speech: the audiobook reader and the phone prompts taking turns.

    Args:
        path: The MP4 to write (H.264 test pattern, AAC stereo 44.1 kHz).
        background_db: Level of the generated music and noise against the speech (RMS of each line,
            dB); ``None``: no background.
        pause: Seconds between lines.
        lead: Seconds before the first line.
        speech_dbfs: RMS level every line is brought to.
        call: Add pyannote.audio's sample call (two women) after the lines.
    """
    rate = 44100
    reader, prompts = librivox_lines(), allison_prompts()
    order: list[Recording] = []
    for index in range(max(len(reader), len(prompts))):
        order += reader[index : index + 1] + prompts[index : index + 1]
    pieces, lines, cursor = [np.zeros(round(lead * rate), np.float32)], [], lead
    for recording in order:
        speech = read_mono(recording, rate)
        speech *= 10 ** (speech_dbfs / 20) / max(1e-9, float(np.sqrt(np.mean(speech**2))))
        end = cursor + len(speech) / rate
        lines.append(
            VideoLine(cursor, end, recording.speaker, recording.sex, recording.text, recording.source)
        )
        pieces += [speech, np.zeros(round(pause * rate), np.float32)]
        cursor = end + pause
    if call:
        call_path, call_lines = pyannote_call()
        audio = read_mono(call_path, rate)
        spoken = np.concatenate([audio[round(s * rate) : round(e * rate)] for s, e, _, _ in call_lines])
        audio *= 10 ** (speech_dbfs / 20) / max(1e-9, float(np.sqrt(np.mean(spoken**2))))
        for start, end, speaker, text in call_lines:
            lines.append(
                VideoLine(cursor + start, cursor + end, speaker.lower(), "f", text, "pyannote.audio")
            )
        pieces += [audio, np.zeros(round(pause * rate), np.float32)]
    track = np.concatenate(pieces)
    if background_db is not None:
        track = track + music_bed(len(track), rate) * 10 ** ((speech_dbfs + background_db) / 20)
    duration = len(track) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "track.wav"
        with wave.open(str(wav_path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes((np.clip(track, -1, 1) * 32767).round().astype("<i2").tobytes())
        subprocess.run(
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={duration:.3f}",
                "-i", str(wav_path),
                "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "160k", "-ac", "2", "-shortest", str(path),
            ],
            check=True,
        )  # fmt: skip
    return RealVideo(path, duration, tuple(lines), background_db)
