"""The pipeline core: stages, context, progress, the artifact cache and the `Pipeline` itself.

Importing this package imports no heavy dependency (no torch, no model runtime).
"""

from typing import TYPE_CHECKING

from dubkit._lazy import attach

if TYPE_CHECKING:  # loaded on first use: see dubkit._lazy
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

__getattr__, __dir__ = attach(
    __name__,
    {
        "ArtifactKey": "dubkit.pipeline.stage",
        "ArtifactStore": "dubkit.pipeline.cache",
        "Artifacts": "dubkit.pipeline.stage",
        "BaseStage": "dubkit.pipeline.stage",
        "CancelToken": "dubkit.pipeline.progress",
        "DubResult": "dubkit.pipeline.result",
        "ExportedDub": "dubkit.pipeline.result",
        "LoggingProgress": "dubkit.pipeline.progress",
        "Pipeline": "dubkit.pipeline.pipeline",
        "ProgressEvent": "dubkit.pipeline.progress",
        "ProgressHook": "dubkit.pipeline.progress",
        "ProgressState": "dubkit.pipeline.progress",
        "RichProgress": "dubkit.pipeline.progress",
        "RunRequest": "dubkit.pipeline.stage",
        "SourceFile": "dubkit.pipeline.stage",
        "Stage": "dubkit.pipeline.stage",
        "StageContext": "dubkit.pipeline.context",
        "StageReport": "dubkit.pipeline.result",
        "TqdmProgress": "dubkit.pipeline.progress",
    },
)
