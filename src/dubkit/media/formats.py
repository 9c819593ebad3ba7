"""The containers and codecs dubkit accepts, and the names ffmpeg knows them by.

Allow-lists, not deny-lists: a demuxer or decoder that is not named here is never used on user input.
Codec names are ffprobe's ``codec_name``; decoder names (what ``-codec_whitelist`` matches) can differ
(``mp3`` is decoded by ``mp3float``, ``av1`` by ``libdav1d``), so each codec lists its decoders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "ATTACHED_PICTURE_CODECS",
    "AUDIO_CODECS",
    "DEMUXERS",
    "M4A_COPY_AUDIO_CODECS",
    "MP4_COPY_AUDIO_CODECS",
    "MP4_VIDEO_CODECS",
    "PROBE_ONLY_DECODERS",
    "SUBTITLE_CODECS",
    "VIDEO_CODECS",
    "decoder_whitelist",
    "demuxer_for",
    "format_whitelist",
]

#: Demuxers, by the ``format_name`` ffprobe reports for them, and the short name that forces each (``-f``).
DEMUXERS: Mapping[str, str] = MappingProxyType(
    {
        "mov,mp4,m4a,3gp,3g2,mj2": "mov",
        "matroska,webm": "matroska",
        "avi": "avi",
        "mpegts": "mpegts",
        "flv": "flv",
        "ogg": "ogg",
        "wav": "wav",
        "mp3": "mp3",
        "flac": "flac",
        "aac": "aac",
    }
)

#: Video codecs, and the decoders allowed for each.
VIDEO_CODECS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "h264": ("h264",),
        "hevc": ("hevc",),
        "vp8": ("vp8", "libvpx"),
        "vp9": ("vp9", "libvpx-vp9"),
        "av1": ("libdav1d", "libaom-av1", "av1"),
        "mpeg4": ("mpeg4",),
        "mpeg2video": ("mpeg2video",),
        "mpeg1video": ("mpeg1video",),
        "mjpeg": ("mjpeg",),
        "prores": ("prores",),
        "theora": ("theora",),
    }
)

#: Codecs of attached pictures (cover art); never decoded, only tolerated.
ATTACHED_PICTURE_CODECS: frozenset[str] = frozenset({"mjpeg", "png", "bmp", "gif", "webp"})

_PCM = (
    "pcm_s8",
    "pcm_u8",
    "pcm_s16le",
    "pcm_s16be",
    "pcm_s24le",
    "pcm_s24be",
    "pcm_s32le",
    "pcm_s32be",
    "pcm_f32le",
    "pcm_f32be",
    "pcm_f64le",
    "pcm_f64be",
    "pcm_alaw",
    "pcm_mulaw",
)

#: Audio codecs, and the decoders allowed for each.
AUDIO_CODECS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "aac": ("aac", "aac_fixed"),
        "mp3": ("mp3float", "mp3"),
        "mp2": ("mp2float", "mp2"),
        "opus": ("opus", "libopus"),
        "vorbis": ("vorbis", "libvorbis"),
        "flac": ("flac",),
        "alac": ("alac",),
        "ac3": ("ac3", "ac3_fixed"),
        "eac3": ("eac3",),
        **{name: (name,) for name in _PCM},
    }
)

#: Subtitle codecs dubkit itself feeds to ffmpeg (the SubRip files it writes), and their decoders.
SUBTITLE_CODECS: Mapping[str, tuple[str, ...]] = MappingProxyType({"subrip": ("subrip", "srt")})

#: Decoders ffprobe may open besides the audio and video ones (it opens one for every stream it lists):
#: cover art and common subtitles. dubkit never decodes these streams.
PROBE_ONLY_DECODERS: tuple[str, ...] = (
    *sorted(ATTACHED_PICTURE_CODECS),
    "mov_text",
    "subrip",
    "srt",
    "ass",
    "ssa",
    "webvtt",
    "dvdsub",
    "pgssub",
    "dvbsub",
)

#: Video codecs the MP4 muxer can carry as they are (stream copy).
MP4_VIDEO_CODECS: frozenset[str] = frozenset(
    {"h264", "hevc", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg"}
)

#: Audio codecs copied into an MP4 as they are; anything else is encoded to AAC.
MP4_COPY_AUDIO_CODECS: frozenset[str] = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})

#: Audio codecs copied into an M4A as they are.
M4A_COPY_AUDIO_CODECS: frozenset[str] = frozenset({"aac", "alac"})


def format_whitelist() -> str:
    """The ``-format_whitelist`` value: every allowed demuxer's names."""
    return ",".join(DEMUXERS)


def demuxer_for(format_name: str) -> str | None:
    """The short demuxer name that forces ``format_name`` (``mov`` for ``mov,mp4,...``), or ``None``."""
    return DEMUXERS.get(format_name)


def decoder_whitelist(codecs: Iterable[str] | None = None) -> str:
    """The ``-codec_whitelist`` value for ``codecs`` (every allowed audio and video codec when ``None``).

    Unknown codec names are skipped, so the list never grows beyond the allow-lists; when nothing is left,
    the value names a decoder that does not exist, so that no decoder at all may open.
    """
    table = {**VIDEO_CODECS, **AUDIO_CODECS, **SUBTITLE_CODECS}
    names = [*VIDEO_CODECS, *AUDIO_CODECS] if codecs is None else [c for c in codecs if c in table]
    decoders = dict.fromkeys(decoder for codec in names for decoder in table[codec])
    return ",".join(decoders) or "none"
