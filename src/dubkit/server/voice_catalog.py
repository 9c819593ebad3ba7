"""The voices a job's synthesizer offers for its target language, kept a few minutes per backend choice.

A re-dub runs with the job's backends (the server's settings plus the job's own choices, as the workers
build them), so the voices a person may pick for a speaker are what that synthesizer's ``voices(language)``
hook lists (`dubkit.backends.protocols.synthesizer_voices`). The backend is created, never loaded: listing
voices needs no model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

import anyio.to_thread

from dubkit.backends.protocols import BackendKind, synthesizer_voices
from dubkit.backends.registry import Registry
from dubkit.backends.synthesizer_choice import AUTO as AUTO_SYNTHESIZER
from dubkit.backends.synthesizer_choice import choose_synthesizer
from dubkit.errors import DubkitError
from dubkit.jobs.pipelines import config_for_job
from dubkit.models.speech import Voice
from dubkit.pipeline.build import PipelineConfig

__all__ = ["VoiceCatalog"]

logger = logging.getLogger(__name__)


class VoiceCatalog:
    """Voices per (backend choices, language) (thread-safe).

    Args:
        config: The server's pipeline settings (a job's choices replace its backend names).
        registry: The backend registry.
        ttl_seconds: How long an answer is kept.
    """

    def __init__(self, config: PipelineConfig, registry: Registry, *, ttl_seconds: float = 300.0) -> None:
        self.config = config
        self.registry = registry
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[tuple[tuple[str, str], ...], str], tuple[float, tuple[Voice, ...]]] = {}

    def voices_now(self, backends: Mapping[str, str], language: str) -> tuple[Voice, ...]:
        """The voices of the synthesizer a job with these choices uses, for ``language`` (may be empty)."""
        key = (tuple(sorted(backends.items())), language)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
                return kept[1]
        voices = self._list(backends, language)
        with self._lock:
            self._kept[key] = (time.monotonic(), voices)
        return voices

    async def voices(self, backends: Mapping[str, str], language: str) -> tuple[Voice, ...]:
        """`voices_now`, off the event loop."""
        return await anyio.to_thread.run_sync(self.voices_now, backends, language)

    def _list(self, backends: Mapping[str, str], language: str) -> tuple[Voice, ...]:
        kind = BackendKind.SYNTHESIZER
        try:
            config = config_for_job(self.config, backends)
            name = config.backend_name(kind)
            same = name == self.config.backend_name(kind)
            options = config.backend_options.get(kind) if same else None
            if name == AUTO_SYNTHESIZER:  # the synthesizer `auto` voices this language with
                name, options = choose_synthesizer(self.registry, language), None
            backend = self.registry.create(kind, name, options)
            return tuple(synthesizer_voices(backend, language))
        except DubkitError as exc:
            logger.info("no voice list for %s (%s): %s", language, dict(backends), exc)
            return ()
