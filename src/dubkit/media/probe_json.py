"""Reading ffprobe's JSON defensively: any field may be missing, ``N/A``, NaN, infinite, huge or negative."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.models.media import StreamInfo

__all__ = ["ProbeReport", "parse_probe_json"]

_KINDS = frozenset({"video", "audio", "subtitle"})


@attrs.frozen(slots=True)
class ProbeReport:
    """What ffprobe said, cleaned.

    Attributes:
        format_name: The demuxer's name list (``mov,mp4,m4a,3gp,3g2,mj2``), or ``""``.
        duration: Seconds, from the container or else the longest stream, when known.
        bit_rate: Bits per second, when known.
        nb_streams: Streams the container declares (at least the ones listed).
        streams: Streams in container order; attached pictures have kind ``data``.
        attached_pictures: Indexes of attached pictures (cover art).
    """

    format_name: str
    duration: float | None
    bit_rate: int | None
    nb_streams: int
    streams: tuple[StreamInfo, ...]
    attached_pictures: frozenset[int] = frozenset()


def _number(value: Any) -> float | None:
    """A finite, non-negative number, or ``None`` (missing, ``N/A``, NaN, infinite, negative, not a number).

    Huge values are kept: the limit checks reject them with the right error.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too big for a float
        return math.inf
    if not math.isfinite(number) or number < 0:
        return None
    return number


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or math.isinf(number) else int(number)


def _rate(value: Any) -> float | None:
    """``30000/1001`` -> 29.97; ``0/0``, ``1/0`` and garbage -> ``None``."""
    if not isinstance(value, str):
        return None
    num, sep, den = value.partition("/")
    numerator = _number(num)
    denominator = _number(den) if sep else 1.0
    if not numerator or not denominator:
        return None
    rate = numerator / denominator
    return rate if math.isfinite(rate) else None


def _text(value: Any, *, limit: int = 64) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable())[:limit].strip()
    return cleaned or None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _stream(raw: Mapping[str, Any], position: int) -> tuple[StreamInfo, bool]:
    codec_type = _text(raw.get("codec_type")) or "data"
    attached = _mapping(raw.get("disposition")).get("attached_pic") == 1
    kind = codec_type if codec_type in _KINDS and not (attached and codec_type == "video") else "data"
    index = _integer(raw.get("index"))
    language = _text(_mapping(raw.get("tags")).get("language"), limit=8)
    fps = _rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate"))
    info = StreamInfo(
        index=position if index is None else index,
        kind=kind,
        codec=_text(raw.get("codec_name")) or "unknown",
        duration=_number(raw.get("duration")),
        width=_integer(raw.get("width")) or None,
        height=_integer(raw.get("height")) or None,
        fps=fps if kind == "video" else None,
        sample_rate=_integer(raw.get("sample_rate")) or None,
        channels=_integer(raw.get("channels")) or None,
        channel_layout=_text(raw.get("channel_layout"), limit=32),
        language=None if language in (None, "und") else language,
    )
    return info, attached


def parse_probe_json(data: bytes) -> ProbeReport:
    """Parse ffprobe's ``-of json`` output.

    Args:
        data: ffprobe's stdout.

    Returns:
        The cleaned report.

    Raises:
        ValueError: The output is not a JSON object.
    """
    document = json.loads(data.decode("utf-8", "replace"))
    if not isinstance(document, dict):
        raise ValueError("ffprobe output is not a JSON object")
    fmt = _mapping(document.get("format"))
    raw_streams = document.get("streams")
    streams: list[StreamInfo] = []
    attached: set[int] = set()
    if isinstance(raw_streams, list):
        for position, raw in enumerate(raw_streams):
            info, is_picture = _stream(_mapping(raw), position)
            streams.append(info)
            if is_picture:
                attached.add(info.index)
    duration = _number(fmt.get("duration"))
    if duration is None:
        durations = [s.duration for s in streams if s.duration is not None and s.kind in ("audio", "video")]
        duration = max(durations, default=None)
    declared = _integer(fmt.get("nb_streams")) or 0
    return ProbeReport(
        format_name=_text(fmt.get("format_name"), limit=128) or "",
        duration=duration,
        bit_rate=_integer(fmt.get("bit_rate")),
        nb_streams=max(declared, len(streams)),
        streams=tuple(streams),
        attached_pictures=frozenset(attached),
    )
