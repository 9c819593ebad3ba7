"""The pipeline core: stages, context, progress, the artifact cache and the `Pipeline` itself.

Importing this package imports no heavy dependency (no torch, no model runtime).
"""

from dubkit.pipeline.cache import ArtifactStore
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.progress import (
    CancelToken,
    LoggingProgress,
    ProgressEvent,
    ProgressHook,
    ProgressState,
    RichProgress,
    TqdmProgress,
)
from dubkit.pipeline.result import DubResult, ExportedDub, StageReport
from dubkit.pipeline.stage import ArtifactKey, Artifacts, BaseStage, RunRequest, SourceFile, Stage

__all__ = [
    "ArtifactKey",
    "ArtifactStore",
    "Artifacts",
    "BaseStage",
    "CancelToken",
    "DubResult",
    "ExportedDub",
    "LoggingProgress",
    "Pipeline",
    "ProgressEvent",
    "ProgressHook",
    "ProgressState",
    "RichProgress",
    "RunRequest",
    "SourceFile",
    "Stage",
    "StageContext",
    "StageReport",
    "TqdmProgress",
]
