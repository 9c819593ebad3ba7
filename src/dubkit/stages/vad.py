"""Stage 4, vad: find where speech is in the analysis track.

A track longer than ``chunk_seconds`` is detected chunk by chunk, unless the detector streams whole
files itself (a `dubkit.backends.protocols.StreamingVAD`, as Silero is; it reports how much it has
read, and a cancelled run stops it between blocks): each chunk is copied to a small WAV
file and handed to the detector, so any detector works on bounded memory. Chunks are cut at silences
the detector found (`dubkit.stages.chunking.settled_regions`): a region still running at a chunk's end
is detected again from the silence before it. Each chunk's regions are a checkpoint in the stage's
unit cache, keyed by the chunk's audio, so a run killed half way resumes at the first unfinished chunk.
"""

from __future__ import annotations

import hashlib
import time
import wave
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import StreamingVAD, VoiceActivityDetector
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion, VoiceActivity
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEECH
from dubkit.pipeline.memory import release_free_memory
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.chunking import settled_regions

__all__ = ["VadStage"]

_GUARD = 1.0  # a region ending closer than this to a chunk's end may go on into the next chunk


class VadStage(BaseStage[VoiceActivity]):
    """Runs a voice-activity detector over the 16 kHz mono analysis track.

    Args:
        detector: The detector backend.
        chunk_seconds: Longest stretch of audio detected in one call; each finished chunk is a
            checkpoint a rerun resumes from.
    """

    name = "vad"
    version = "2"
    inputs = (AUDIO,)
    output = SPEECH

    def __init__(
        self, detector: BackendBinding[VoiceActivityDetector], *, chunk_seconds: float = 60.0
    ) -> None:
        if chunk_seconds <= 2 * _GUARD:
            raise ValueError(f"chunk_seconds must be over {2 * _GUARD:g}, got {chunk_seconds}")
        self.detector = detector
        self.chunk_seconds = chunk_seconds

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The detector's identity and the chunk length (chunks cut where the regions are decided)."""
        return {"backend": self.detector.fingerprint(), "chunk_seconds": self.chunk_seconds}

    def run(self, ctx: StageContext, inputs: Artifacts) -> VoiceActivity:
        """Detect speech regions, sorted and clipped to the audio."""
        audio = inputs[AUDIO].analysis
        detector = self.detector.get()
        regions: list[SpeechRegion] | None = None
        if isinstance(detector, StreamingVAD):
            regions = list(detector.detect_streaming(audio, _streaming_progress(ctx)))
        elif audio.duration > self.chunk_seconds:
            try:
                regions = self._detect_chunks(ctx, audio)
            except wave.Error:  # not a PCM WAV the stage can cut: the detector reads it whole
                regions = None
        if regions is None:
            regions = list(detector.detect(audio))
        regions.sort(key=lambda r: r.start)
        kept = tuple(r for r in regions if r.end > r.start and r.start < audio.duration)
        ctx.progress(1.0, f"{len(kept)} regions")
        return VoiceActivity(regions=kept)

    def _detect_chunks(self, ctx: StageContext, audio: AudioFile) -> list[SpeechRegion]:
        """Every chunk's regions (from the unit cache when a previous run finished the chunk)."""
        cache = ctx.units()
        backend = self.detector.fingerprint()
        piece = ctx.work_dir / "chunk.wav"
        regions: list[SpeechRegion] = []
        started = time.monotonic()
        with wave.open(str(audio.path), "rb") as wav:
            rate, total = wav.getframerate(), wav.getnframes()
            chunk_frames = round(self.chunk_seconds * rate)
            position, count = 0, 0
            while position < total:
                ctx.check_cancelled()
                frames = chunk_frames if total - position > chunk_frames * 5 // 4 else total - position
                last = position + frames >= total
                wav.setpos(position)
                pcm = wav.readframes(frames)
                key = stable_hash({"backend": backend, "pcm": hashlib.sha256(pcm).hexdigest(), "rate": rate})
                found = cache.get(key, VoiceActivity)
                if found is None:
                    found = VoiceActivity(tuple(self._detect_piece(wav, pcm, piece, audio)))
                    cache.put(key, found)
                kept, advance = settled_regions(found.regions, frames / rate, guard=_GUARD, last=last)
                offset = position / rate
                regions.extend(SpeechRegion(offset + r.start, offset + r.end) for r in kept)
                position += frames if last else max(1, round(advance * rate))
                count += 1
                release_free_memory()
                ctx.progress_since(started, position / total, f"chunk {count}")
        piece.unlink(missing_ok=True)
        return regions

    def _detect_piece(
        self, wav: wave.Wave_read, pcm: bytes, path: Path, audio: AudioFile
    ) -> list[SpeechRegion]:
        """Regions of ``pcm`` (frames of ``wav``) written to ``path`` as a WAV of its own."""
        with wave.open(str(path), "wb") as out:
            out.setnchannels(wav.getnchannels())
            out.setsampwidth(wav.getsampwidth())
            out.setframerate(wav.getframerate())
            out.writeframes(pcm)
        frames = len(pcm) // (wav.getnchannels() * wav.getsampwidth())
        piece = AudioFile(
            path=path,
            sample_rate=wav.getframerate(),
            channels=wav.getnchannels(),
            duration=frames / wav.getframerate(),
            channel_layout=audio.channel_layout,
        )
        return list(self.detector.get().detect(piece))

    def close(self) -> None:
        """Free the detector."""
        self.detector.close()


def _streaming_progress(ctx: StageContext) -> Callable[[float], None]:
    """A `StreamingVAD`'s progress callback: the fraction read, the time left, and cancellation."""
    started = time.monotonic()

    def report(fraction: float) -> None:
        ctx.check_cancelled()
        ctx.progress_since(started, fraction, f"{fraction:.0%} read")

    return report
