"""dubkit: a typed Python library for AI video dubbing.

```python
import dubkit

result = dubkit.dub("talk.mp4", to="es")        # talk.es.mp4, .srt, .vtt, .dub.json beside the input
print(result.project.segments[0].translation)
```

For full control build a `Pipeline` with `build_pipeline` and a `PipelineConfig`,
or assemble your own stages. Importing dubkit imports no heavy dependency, and no part of the
public API before its first use.
"""

from typing import TYPE_CHECKING

from dubkit._lazy import attach
from dubkit._version import __version__

if TYPE_CHECKING:  # loaded on first use (dubkit._lazy): `import dubkit` stays quick
    from dubkit.api import dub
    from dubkit.backends.base import (
        BaseDiarizer,
        BaseSeparator,
        BaseSynthesizer,
        BaseTranscriber,
        BaseTranslator,
        BaseVAD,
    )
    from dubkit.backends.protocols import (
        PLUGIN_API_VERSION,
        BackendKind,
        Diarizer,
        Separator,
        Synthesizer,
        Transcriber,
        TranslationCandidate,
        Translator,
        VoiceActivityDetector,
    )
    from dubkit.backends.registry import Registry
    from dubkit.errors import (
        BackendError,
        BackendUnavailableError,
        BackendValidationError,
        CancelledError,
        ConfigError,
        DubkitError,
        MediaError,
        StageError,
        UnknownBackendError,
        UnknownLanguageError,
    )
    from dubkit.models.project import DubProject
    from dubkit.pipeline.build import PipelineConfig, build_pipeline
    from dubkit.pipeline.pipeline import Pipeline
    from dubkit.pipeline.progress import (
        CancelToken,
        LoggingProgress,
        ProgressEvent,
        RichProgress,
        TqdmProgress,
    )
    from dubkit.pipeline.result import DubResult
    from dubkit.pipeline.stage import ArtifactKey, BaseStage, Stage

__all__ = [
    "PLUGIN_API_VERSION",
    "ArtifactKey",
    "BackendError",
    "BackendKind",
    "BackendUnavailableError",
    "BackendValidationError",
    "BaseDiarizer",
    "BaseSeparator",
    "BaseStage",
    "BaseSynthesizer",
    "BaseTranscriber",
    "BaseTranslator",
    "BaseVAD",
    "CancelToken",
    "CancelledError",
    "ConfigError",
    "Diarizer",
    "DubProject",
    "DubResult",
    "DubkitError",
    "LoggingProgress",
    "MediaError",
    "Pipeline",
    "PipelineConfig",
    "ProgressEvent",
    "Registry",
    "RichProgress",
    "Separator",
    "Stage",
    "StageError",
    "Synthesizer",
    "TqdmProgress",
    "Transcriber",
    "TranslationCandidate",
    "Translator",
    "UnknownBackendError",
    "UnknownLanguageError",
    "VoiceActivityDetector",
    "__version__",
    "build_pipeline",
    "dub",
]

__getattr__, __dir__ = attach(
    __name__,
    {
        "ArtifactKey": "dubkit.pipeline.stage",
        "BackendError": "dubkit.errors",
        "BackendKind": "dubkit.backends.protocols",
        "BackendUnavailableError": "dubkit.errors",
        "BackendValidationError": "dubkit.errors",
        "BaseDiarizer": "dubkit.backends.base",
        "BaseSeparator": "dubkit.backends.base",
        "BaseStage": "dubkit.pipeline.stage",
        "BaseSynthesizer": "dubkit.backends.base",
        "BaseTranscriber": "dubkit.backends.base",
        "BaseTranslator": "dubkit.backends.base",
        "BaseVAD": "dubkit.backends.base",
        "CancelToken": "dubkit.pipeline.progress",
        "CancelledError": "dubkit.errors",
        "ConfigError": "dubkit.errors",
        "Diarizer": "dubkit.backends.protocols",
        "DubProject": "dubkit.models.project",
        "DubResult": "dubkit.pipeline.result",
        "DubkitError": "dubkit.errors",
        "LoggingProgress": "dubkit.pipeline.progress",
        "MediaError": "dubkit.errors",
        "PLUGIN_API_VERSION": "dubkit.backends.protocols",
        "Pipeline": "dubkit.pipeline.pipeline",
        "PipelineConfig": "dubkit.pipeline.build",
        "ProgressEvent": "dubkit.pipeline.progress",
        "Registry": "dubkit.backends.registry",
        "RichProgress": "dubkit.pipeline.progress",
        "Separator": "dubkit.backends.protocols",
        "Stage": "dubkit.pipeline.stage",
        "StageError": "dubkit.errors",
        "Synthesizer": "dubkit.backends.protocols",
        "TqdmProgress": "dubkit.pipeline.progress",
        "Transcriber": "dubkit.backends.protocols",
        "TranslationCandidate": "dubkit.backends.protocols",
        "Translator": "dubkit.backends.protocols",
        "UnknownBackendError": "dubkit.errors",
        "UnknownLanguageError": "dubkit.errors",
        "VoiceActivityDetector": "dubkit.backends.protocols",
        "build_pipeline": "dubkit.pipeline.build",
        "dub": "dubkit.api",
    },
)
