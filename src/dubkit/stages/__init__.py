"""The 11 standard stages, one module each; every stage depends on backend protocols only."""

from dubkit.stages.diarize import DiarizeStage
from dubkit.stages.extract import ExtractStage
from dubkit.stages.fit import FitOptions, FitStage
from dubkit.stages.mix import MixStage
from dubkit.stages.mux import MuxStage
from dubkit.stages.probe import ProbeStage
from dubkit.stages.review import ReviewStage
from dubkit.stages.separate import SeparateStage
from dubkit.stages.synthesize import SynthesizeStage
from dubkit.stages.transcribe import TranscribeStage
from dubkit.stages.translate import TranslateStage
from dubkit.stages.vad import VadStage

__all__ = [
    "DiarizeStage",
    "ExtractStage",
    "FitOptions",
    "FitStage",
    "MixStage",
    "MuxStage",
    "ProbeStage",
    "ReviewStage",
    "SeparateStage",
    "SynthesizeStage",
    "TranscribeStage",
    "TranslateStage",
    "VadStage",
]
