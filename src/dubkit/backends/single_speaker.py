"""The ``single`` diarizer: every speech region belongs to one speaker."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from dubkit.backends.base import BaseDiarizer
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeakerTurn, SpeechRegion

__all__ = ["SingleSpeakerDiarizer"]


class SingleSpeakerDiarizer(BaseDiarizer["SingleSpeakerDiarizer.Options"]):
    """Labels every region with one speaker."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            label: The speaker label to use.
        """

        label: str = "SPEAKER_00"

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        """One turn per region, all with the same label."""
        return [SpeakerTurn(r.start, r.end, self.options.label) for r in regions]
