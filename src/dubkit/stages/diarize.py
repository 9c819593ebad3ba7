"""Stage 5, diarize: who speaks when.

Speech spanning more than ``chunk_seconds`` of the timeline is diarized chunk by chunk (chunks cut
between speech regions) when the diarizer can describe each chunk's voices (a
`dubkit.backends.protocols.LinkableDiarizer`, such as ``resemblyzer``): the chunks' speakers are then
linked by their voice profiles into one set of labels (`dubkit.stages.speaker_links`), so memory
stays bounded and each finished chunk is a checkpoint in the stage's unit cache. Any other diarizer
sees the whole input in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Diarizer, LinkableDiarizer
from dubkit.models.media import AudioFile
from dubkit.models.speech import ChunkDiarization, Diarization, SpeakerTurn, SpeechRegion
from dubkit.pipeline.cache import hash_file, stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEAKERS, SPEECH
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.chunking import chunk_regions
from dubkit.stages.speaker_links import link_speakers

__all__ = ["DiarizeStage"]


class DiarizeStage(BaseStage[Diarization]):
    """Runs a diarizer over the speech regions.

    Args:
        diarizer: The diarizer backend.
        chunk_seconds: Longest stretch of the timeline diarized in one call (linkable diarizers only).
    """

    name = "diarize"
    version = "2"
    inputs = (AUDIO, SPEECH)
    output = SPEAKERS

    def __init__(self, diarizer: BackendBinding[Diarizer], *, chunk_seconds: float = 300.0) -> None:
        if chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
        self.diarizer = diarizer
        self.chunk_seconds = chunk_seconds

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The diarizer's identity and the chunk length."""
        return {"backend": self.diarizer.fingerprint(), "chunk_seconds": self.chunk_seconds}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Diarization:
        """Speaker turns, in time order."""
        regions = inputs[SPEECH].regions
        if not regions:
            return Diarization()
        audio = inputs[AUDIO].analysis
        diarizer = self.diarizer.get()
        chunks = chunk_regions(regions, self.chunk_seconds)
        if len(chunks) > 1 and isinstance(diarizer, LinkableDiarizer):
            turns = self._diarize_chunks(ctx, diarizer, audio, chunks)
        else:
            turns = list(diarizer.diarize(audio, regions))
        result = Diarization(turns=tuple(sorted(turns, key=lambda t: t.start)))
        ctx.progress(1.0, f"{len(result.speakers)} speakers")
        return result

    def _diarize_chunks(
        self,
        ctx: StageContext,
        diarizer: LinkableDiarizer,
        audio: AudioFile,
        chunks: Sequence[tuple[SpeechRegion, ...]],
    ) -> list[SpeakerTurn]:
        """Every chunk diarized (or taken from the unit cache), then the chunks' speakers linked."""
        cache = ctx.units()
        base = {"backend": self.diarizer.fingerprint(), "audio": hash_file(audio.path)}
        parts: list[ChunkDiarization] = []
        for chunk in ctx.each(chunks, label="chunk", release_memory=True):
            key = stable_hash({**base, "regions": [(r.start, r.end) for r in chunk]})
            part = cache.get(key, ChunkDiarization)
            if part is None:
                part = diarizer.diarize_chunk(audio, chunk)
                cache.put(key, part)
            parts.append(part)
        return link_speakers(parts, max_distance=diarizer.link_distance, max_speakers=diarizer.speaker_limit)

    def close(self) -> None:
        """Free the diarizer."""
        self.diarizer.close()
