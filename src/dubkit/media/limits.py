"""What probe accepts: the size, length, resolution, frame rate and stream count of an input."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["MediaLimits"]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(slots=True)
class MediaLimits:
    """Limits an input must stay within; `dubkit.media.probe` raises MediaLimitError past them.

    Resolution is checked in either orientation: a 2160x3840 portrait video passes the 3840x2160 limit.

    Attributes:
        max_width: Pixels along the long side.
        max_height: Pixels along the short side.
        max_fps: Frames per second.
        max_streams: Streams in the container, of any kind.
        max_duration: Seconds.
        max_size: Bytes on disk, checked before ffprobe runs.
        probe_timeout_s: Wall-clock seconds for each ffprobe or check run during probe.
    """

    max_width: int = attrs.field(default=3840, validator=_positive)
    max_height: int = attrs.field(default=2160, validator=_positive)
    max_fps: float = attrs.field(default=120.0, validator=_positive)
    max_streams: int = attrs.field(default=8, validator=_positive)
    max_duration: float = attrs.field(default=3 * 3600.0, validator=_positive)
    max_size: int = attrs.field(default=200 * 1024 * 1024, validator=_positive)
    probe_timeout_s: float = attrs.field(default=20.0, validator=_positive)

    @property
    def max_pixels(self) -> int:
        """Largest frame, in pixels (``-max_pixels``)."""
        return self.max_width * self.max_height
