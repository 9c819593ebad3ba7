"""A generated two-speaker sample video (espeak-ng voices, a noise bed, a test-pattern picture)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

__all__ = ["DEFAULT_SCRIPT", "SampleLine", "SampleVideo", "lecture_script", "make_sample_video", "plain_text"]

DEFAULT_SCRIPT: tuple[tuple[str, str], ...] = (
    ("en+m3", "Good morning, and welcome to the weekly science report."),
    ("en+f4", "Thank you. Today we talk about the water cycle on our planet."),
    ("en+m3", "The sun warms the ocean, and the water rises into the sky."),
    ("en+f4", "Then the clouds carry the rain over the mountains."),
    ("en+m3", "The rivers bring the water back to the sea."),
    ("en+f4", "That is all for today. See you next week."),
)
"""(voice, text) lines of the default sample: two espeak-ng voices alternating."""


_SUBJECTS = [
    "The river",
    "Our teacher",
    "A small boat",
    "The old bridge",
    "My neighbour",
    "The city council",
    "A young doctor",
    "The morning train",
    "This little garden",
    "The northern wind",
]
_VERBS = ["carries", "finds", "builds", "watches", "paints", "follows", "opens", "visits", "moves", "cleans"]
_OBJECTS = [
    "the green house",
    "a heavy stone",
    "the quiet market",
    "an open window",
    "the long road",
    "a bright lamp",
    "the wooden table",
    "a cold lake",
    "the new school",
    "a red door",
]
_ENDINGS = [
    "every morning.",
    "before the storm.",
    "near the harbour.",
    "after dinner.",
    "with great care.",
    "in the spring.",
    "without a word.",
    "at the end of the day.",
]


def lecture_script(minutes: float) -> list[tuple[str, str]]:
    """Distinct sentences, two voices alternating (about 4.5 s a line with its pause)."""
    count = max(2, round(minutes * 60 / 4.5))
    lines = []
    for i in range(count):
        sentence = (
            f"{_SUBJECTS[i % 10]} {_VERBS[(i // 10) % 10]} {_OBJECTS[(i // 100 + i) % 10]} "
            f"{_ENDINGS[(i * 7) % 8]}"
        )
        lines.append(("en+m3" if i % 2 == 0 else "en+f4", sentence))
    return lines


@attrs.frozen
class SampleLine:
    """One spoken line of the sample: where it is, who says it, what is said."""

    start: float
    end: float
    voice: str
    text: str


@attrs.frozen
class SampleVideo:
    """The generated file and its script."""

    path: Path
    duration: float
    lines: tuple[SampleLine, ...]

    @property
    def text(self) -> str:
        """Everything said, in order."""
        return " ".join(line.text for line in self.lines)


def _is_ssml(text: str) -> bool:
    return text.lstrip().startswith("<speak>")


def plain_text(text: str) -> str:
    """A script line without its SSML markup (``<break time="400ms"/>`` and the like)."""
    return " ".join(re.sub(r"<[^>]*>", " ", text).split()) if _is_ssml(text) else text


def _speak(voice: str, text: str, out: Path, rate: int) -> np.ndarray:
    markup = ["-m"] if _is_ssml(text) else []
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "155", *markup, "-w", str(out), "--", text],
        check=True,
        capture_output=True,
    )
    resampled = out.with_suffix(".r.wav")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(out),
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-c:a",
            "pcm_s16le",
            str(resampled),
        ],
        check=True,
    )
    with wave.open(str(resampled), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def make_sample_video(
    path: Path,
    *,
    script: Sequence[tuple[str, str]] = DEFAULT_SCRIPT,
    pause: float = 0.9,
    pauses: Sequence[float] | None = None,
    lead: float = 0.8,
    noise_db: float = -45.0,
    size: str = "320x240",
    fps: int = 25,
    audio_only: bool = False,
    seed: int = 7,
) -> SampleVideo:
    """Generate a video whose speech is ``script`` spoken by espeak-ng voices over a quiet noise bed.

    Needs ``espeak-ng`` and ``ffmpeg`` on PATH. The video is an H.264 test pattern; the audio AAC stereo.
    ``pauses`` gives the silence after each line (``pause`` for every line when ``None``). A line may be
    SSML (``<speak>Ask not <break time="500ms"/> what your country can do for you.</speak>``): then
    espeak-ng says it as one sentence with pauses inside it (the line's ``text`` is without the markup).
    """
    if pauses is not None and len(pauses) != len(script):
        raise ValueError(f"{len(pauses)} pauses for {len(script)} lines")
    rate = 44100
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pieces, lines, cursor = [np.zeros(int(lead * rate), np.float32)], [], lead
        for i, (voice, text) in enumerate(script):
            speech = _speak(voice, text, folder / f"line{i}.wav", rate)
            after = pause if pauses is None else pauses[i]
            lines.append(SampleLine(cursor, cursor + len(speech) / rate, voice, plain_text(text)))
            pieces += [speech, np.zeros(int(after * rate), np.float32)]
            cursor += len(speech) / rate + after
        voice_track = np.concatenate(pieces)
        noise = rng.normal(0, 10 ** (noise_db / 20), len(voice_track)).astype(np.float32)
        mixed = np.clip(voice_track * 0.8 + noise, -1, 1)
        pcm = (mixed * 32767).astype("<i2")
        wav_path = folder / "track.wav"
        with wave.open(str(wav_path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm.tobytes())
        duration = len(pcm) / rate
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio_only:
            cmd = [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-i",
                str(wav_path),
                "-ac",
                "2",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                str(path),
            ]
        else:
            cmd = [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={fps}:duration={duration:.3f}",
                "-i",
                str(wav_path),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-g",
                str(fps * 2),
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-ac",
                "2",
                "-shortest",
                str(path),
            ]
        subprocess.run(cmd, check=True)
    return SampleVideo(path=path, duration=duration, lines=tuple(lines))
