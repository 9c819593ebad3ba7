"""A transcriber that writes one line per speech region, after an optional sleep (no model)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs

from dubkit.backends import BaseTranscriber
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment


class RegionTranscriber(BaseTranscriber["RegionTranscriber.Options"]):
    """One segment per region ("this is line number i"); counts its loads (tests read ``loads``)."""

    @attrs.frozen
    class Options:
        """Options of the stand-in transcriber.

        Attributes:
            sleep: Seconds to sleep before transcribing (a slow model, for kills mid-stage).
            footprint: The memory size the backend reports once loaded (bytes), for warm-cache budgets.
        """

        sleep: float = 0.0
        footprint: int = 0

    loads = 0  # how many times load() ran in this process, over every instance

    def _load(self) -> None:
        type(self).loads += 1

    @property
    def memory_footprint(self) -> int:
        """What the warm cache counts for this backend."""
        return self.options.footprint

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        """One segment per region."""
        if self.options.sleep > 0:
            time.sleep(self.options.sleep)
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(id=f"r{i}", start=r.start, end=r.end, text=f"this is line number {i}")
                for i, r in enumerate(regions)
            ),
        )


class CrashingTranscriber(RegionTranscriber):
    """A transcriber whose model always crashes (an error another attempt might not see)."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        """Raise."""
        raise RuntimeError("model crashed")
