"""The ``none`` separator: no separation; the mix ducks the original audio under the dub."""

from __future__ import annotations

from pathlib import Path

from dubkit.backends.base import BaseSeparator, NoOptions
from dubkit.models.media import AudioFile, Stems

__all__ = ["NoSeparator"]


class NoSeparator(BaseSeparator[NoOptions]):
    """Returns no stems, which tells the mix to duck the original audio under the dub."""

    def separate(self, audio: AudioFile, out_dir: Path) -> Stems:
        """No work: no voice stem, no background stem."""
        return Stems()
