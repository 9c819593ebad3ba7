"""dubkit: a typed Python library for AI video dubbing.

```python
import dubkit

result = dubkit.dub("talk.mp4", to="es")        # talk.es.mp4, .srt, .vtt, .dub.json beside the input
print(result.project.segments[0].translation)
```

For full control build a `Pipeline` with `build_pipeline` and a `PipelineConfig`,
or assemble your own stages. Importing dubkit imports no heavy dependency.
"""

from dubkit._version import __version__
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
from dubkit.pipeline.progress import CancelToken, LoggingProgress, ProgressEvent, RichProgress, TqdmProgress
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
