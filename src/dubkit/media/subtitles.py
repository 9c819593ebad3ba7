r"""Subtitle files (SubRip, WebVTT) written with pysubs2 from plain-text cues.

Cue text is plain text, never markup: characters that SubRip, WebVTT or pysubs2's SSA model would read as
syntax are neutralised first (``{...}`` override blocks, ``\\N`` escapes, ``-->``, blank lines that end a cue,
and ``&``, ``<``, ``>`` in WebVTT).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pysubs2

from dubkit.atomicfile import atomic_write_text
from dubkit.errors import ConfigError
from dubkit.models.media import SubtitleCue

__all__ = ["SUBTITLE_FORMATS", "clean_cues", "subtitle_text", "write_subtitles"]

logger = logging.getLogger(__name__)

#: File suffix -> pysubs2 format.
SUBTITLE_FORMATS = {".srt": "srt", ".vtt": "vtt"}

_VTT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def subtitle_text(text: str, *, fmt: str) -> str:
    """``text`` made safe as the plain text of one cue in ``fmt`` (``srt`` or ``vtt``), one line a line."""
    cleaned = "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text.replace("\r\n", "\n"))
    cleaned = cleaned.replace("{", "(").replace("}", ")").replace("\\", "\u29f5").replace("-->", "->")
    if fmt == "vtt":
        cleaned = cleaned.translate(_VTT_ESCAPES)
    lines = [line.strip() for line in cleaned.split("\n")]
    return "\n".join(line for line in lines if line)


def clean_cues(cues: Iterable[SubtitleCue], *, duration: float | None = None) -> list[SubtitleCue]:
    """Cues in time order, cut to ``[0, duration]``; empty, inverted or non-finite ones dropped."""
    kept: list[SubtitleCue] = []
    for cue in cues:
        start, end = max(0.0, cue.start), cue.end
        if duration is not None:
            end = min(end, duration)
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start or not cue.text.strip():
            continue
        kept.append(SubtitleCue(start, end, cue.text))
    return sorted(kept, key=lambda cue: (cue.start, cue.end))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def render_subtitles(cues: Sequence[SubtitleCue], fmt: str) -> str:
    """The text of a subtitle file in ``fmt`` (``srt`` or ``vtt``)."""
    document = pysubs2.SSAFile()
    for cue in clean_cues(cues):
        text = subtitle_text(cue.text, fmt=fmt)
        if not text:
            continue
        event = pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end))
        event.plaintext = text
        document.append(event)
    rendered: str = document.to_string(fmt)
    return rendered


def write_subtitles(cues: Sequence[SubtitleCue], path: os.PathLike[str] | str) -> Path:
    """Write cues as SubRip (``.srt``) or WebVTT (``.vtt``), chosen by the suffix, atomically, in UTF-8.

    Args:
        cues: The cues, in any order.
        path: The file to write.

    Returns:
        ``path``.

    Raises:
        ConfigError: The suffix is neither ``.srt`` nor ``.vtt``.
    """
    path = Path(path)
    fmt = SUBTITLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"subtitle files must end in .srt or .vtt, not {path.suffix!r}", field="path")
    atomic_write_text(path, render_subtitles(cues, fmt))
    logger.debug("wrote %d cues to %s", len(cues), path)
    return path
