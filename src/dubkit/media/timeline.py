"""A rendered clip's place on the track's timeline (sample frames), as the block mix lays clips out."""

from __future__ import annotations

from pathlib import Path

import attrs

__all__ = ["Placement"]


@attrs.frozen(slots=True)
class Placement:
    """A rendered clip at its place on the timeline.

    Attributes:
        start: First sample frame.
        frames: Length in sample frames.
        raw: Raw interleaved PCM at the timeline's format.
        segment_id: The segment it voices.
    """

    start: int
    frames: int
    raw: Path
    segment_id: str = ""

    @property
    def end(self) -> int:
        """First frame after the clip."""
        return self.start + self.frames
