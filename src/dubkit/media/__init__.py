"""ffmpeg and ffprobe as confined subprocesses: probe, extract, stretch, mix, mux, preview.

Every function takes an optional `FFmpeg` (binaries, version and resource limits); without one it
uses `default_ffmpeg`, found on PATH on first use. Nothing runs at import time.
"""

from dubkit.media.audio import extract_audio
from dubkit.media.binaries import FFmpeg, default_ffmpeg, find_ffmpeg
from dubkit.media.limits import MediaLimits
from dubkit.media.loudness import Loudness, measure_loudness
from dubkit.media.mix import DuckingOptions, MixOptions, mix
from dubkit.media.mux import mux
from dubkit.media.preview import preview
from dubkit.media.probe import probe
from dubkit.media.process import ProcessLimits
from dubkit.media.stretch import stretch
from dubkit.media.subtitles import write_subtitles
from dubkit.media.wav import read_wav_info

__all__ = [
    "DuckingOptions",
    "FFmpeg",
    "Loudness",
    "MediaLimits",
    "MixOptions",
    "ProcessLimits",
    "default_ffmpeg",
    "extract_audio",
    "find_ffmpeg",
    "measure_loudness",
    "mix",
    "mux",
    "preview",
    "probe",
    "read_wav_info",
    "stretch",
    "write_subtitles",
]
