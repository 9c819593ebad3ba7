"""Media facts: what probe finds in a file, and the audio files the pipeline passes around."""

from __future__ import annotations

from pathlib import Path

import attrs

__all__ = [
    "AudioFile",
    "DubbedAudio",
    "ExtractedAudio",
    "MediaInfo",
    "MuxedMedia",
    "Stems",
    "StreamInfo",
    "SubtitleCue",
]


@attrs.frozen(slots=True)
class StreamInfo:
    """One stream of a media file, as probed.

    Attributes:
        index: The stream's index in the container.
        kind: ``video``, ``audio``, ``subtitle`` or ``data``.
        codec: The codec name (``h264``, ``aac``, ...).
        duration: Seconds, when the container says.
        width: Pixels (video).
        height: Pixels (video).
        fps: Frames per second (video).
        sample_rate: Hz (audio).
        channels: Channel count (audio).
        channel_layout: ``mono``, ``stereo``, ``5.1(side)``, ... (audio).
        language: ISO 639 tag from the container, when present.
    """

    index: int
    kind: str
    codec: str
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    channel_layout: str | None = None
    language: str | None = None


@attrs.frozen(slots=True)
class MediaInfo:
    """What probe found in an input file.

    Attributes:
        path: The probed file.
        format_name: The demuxer that opened it (``mov,mp4,m4a,3gp,3g2,mj2``, ``matroska,webm``, ...).
        duration: Seconds.
        size: Bytes.
        bit_rate: Bits per second, when known.
        streams: Every stream, in container order.
    """

    path: Path
    format_name: str
    duration: float
    size: int
    bit_rate: int | None = None
    streams: tuple[StreamInfo, ...] = ()

    @property
    def video_streams(self) -> tuple[StreamInfo, ...]:
        """The video streams (cover art excluded by probe)."""
        return tuple(s for s in self.streams if s.kind == "video")

    @property
    def audio_streams(self) -> tuple[StreamInfo, ...]:
        """The audio streams."""
        return tuple(s for s in self.streams if s.kind == "audio")

    @property
    def has_video(self) -> bool:
        """Whether there is a video stream to carry over."""
        return bool(self.video_streams)

    @property
    def primary_audio(self) -> StreamInfo | None:
        """The audio stream dubkit dubs: the first one."""
        audio = self.audio_streams
        return audio[0] if audio else None


@attrs.frozen(slots=True)
class AudioFile:
    """A PCM WAV file on disk with its format.

    Attributes:
        path: The file.
        sample_rate: Hz.
        channels: Channel count.
        duration: Seconds.
        channel_layout: ffmpeg's layout name, when known.
    """

    path: Path
    sample_rate: int
    channels: int
    duration: float
    channel_layout: str | None = None


@attrs.frozen(slots=True)
class ExtractedAudio:
    """The extract stage's output.

    Attributes:
        analysis: 16 kHz mono audio for VAD, diarization and transcription.
        full: The original audio at its own rate and channel layout, for mixing.
    """

    analysis: AudioFile
    full: AudioFile


@attrs.frozen(slots=True)
class Stems:
    """The separate stage's output.

    Attributes:
        voice: The isolated voice, or ``None`` when no separator ran.
        background: The background without voice, or ``None``: then the mix ducks the original audio
            under the dub instead.
    """

    voice: AudioFile | None = None
    background: AudioFile | None = None

    @property
    def separated(self) -> bool:
        """Whether a real separation ran."""
        return self.background is not None


@attrs.frozen(slots=True)
class SubtitleCue:
    """One subtitle line: seconds and text."""

    start: float
    end: float
    text: str


@attrs.frozen(slots=True)
class DubbedAudio:
    """The mix stage's output.

    Attributes:
        track: The dubbed audio track (source sample rate and channel layout).
        loudness_lufs: Its measured integrated loudness (EBU R128), when measured.
        gain_db: The normalising gain applied to the mix (before any limiting), when one was.
    """

    track: AudioFile
    loudness_lufs: float | None = None
    gain_db: float | None = None


@attrs.frozen(slots=True)
class MuxedMedia:
    """The mux stage's output.

    Attributes:
        media: The dubbed MP4 (or M4A for audio-only input).
        srt: Target-language subtitles as SubRip.
        vtt: Target-language subtitles as WebVTT.
    """

    media: Path
    srt: Path
    vtt: Path
