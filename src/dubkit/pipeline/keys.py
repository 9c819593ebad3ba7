"""The artifact keys of the standard 11-stage dub, in the order stages produce them."""

from __future__ import annotations

from dubkit.models.media import DubbedAudio, ExtractedAudio, MediaInfo, MuxedMedia, Stems
from dubkit.models.speech import (
    Diarization,
    Review,
    Synthesis,
    TimingPlan,
    Transcript,
    Translation,
    VoiceActivity,
)
from dubkit.pipeline.stage import ArtifactKey, SourceFile

__all__ = [
    "AUDIO",
    "DUBBED",
    "MEDIA",
    "OUTPUT",
    "REVIEW",
    "SOURCE",
    "SPEAKERS",
    "SPEECH",
    "STEMS",
    "SYNTHESIS",
    "TIMING",
    "TRANSCRIPT",
    "TRANSLATION",
]

SOURCE: ArtifactKey[SourceFile] = ArtifactKey("source", SourceFile)
MEDIA: ArtifactKey[MediaInfo] = ArtifactKey("media", MediaInfo)
AUDIO: ArtifactKey[ExtractedAudio] = ArtifactKey("audio", ExtractedAudio)
STEMS: ArtifactKey[Stems] = ArtifactKey("stems", Stems)
SPEECH: ArtifactKey[VoiceActivity] = ArtifactKey("speech", VoiceActivity)
SPEAKERS: ArtifactKey[Diarization] = ArtifactKey("speakers", Diarization)
TRANSCRIPT: ArtifactKey[Transcript] = ArtifactKey("transcript", Transcript)
TRANSLATION: ArtifactKey[Translation] = ArtifactKey("translation", Translation)
SYNTHESIS: ArtifactKey[Synthesis] = ArtifactKey("synthesis", Synthesis)
TIMING: ArtifactKey[TimingPlan] = ArtifactKey("timing", TimingPlan)
DUBBED: ArtifactKey[DubbedAudio] = ArtifactKey("dubbed", DubbedAudio)
OUTPUT: ArtifactKey[MuxedMedia] = ArtifactKey("output", MuxedMedia)
REVIEW: ArtifactKey[Review] = ArtifactKey("review", Review)
