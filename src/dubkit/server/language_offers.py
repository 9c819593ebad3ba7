"""What the server can dub per set of backend choices, kept a few minutes (`dubkit.pipeline.offer`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import anyio.to_thread

from dubkit.backends.registry import Registry
from dubkit.jobs.pipelines import config_for_job
from dubkit.pipeline.build import PipelineConfig
from dubkit.pipeline.offer import LanguageOffer, language_offer
from dubkit.server.upload_request import UploadRequest

__all__ = ["LanguageOffers"]


class LanguageOffers:
    """The language pairs the server's backends can dub, per set of backend choices (thread-safe).

    Args:
        config: The base pipeline settings (the backends a job gets when it names none).
        registry: The backend registry.
        ttl_seconds: How long an answer is kept (a backend installed meanwhile shows up after it).
    """

    def __init__(self, config: PipelineConfig, registry: Registry, *, ttl_seconds: float = 300.0) -> None:
        self.config = config
        self.registry = registry
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._kept: dict[tuple[tuple[str, str], ...], tuple[float, LanguageOffer]] = {}

    def offer_now(self, backends: Mapping[str, str] | None = None) -> LanguageOffer:
        """The offer for a job with these backend choices (computed, or kept from a recent call).

        Raises:
            ConfigError: a choice is not a backend field or name.
            BackendError: a chosen backend cannot be used here.
        """
        key = tuple(sorted((backends or {}).items()))
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
                return kept[1]
            offer = language_offer(config_for_job(self.config, dict(key)), self.registry)
            self._kept[key] = (time.monotonic(), offer)
            return offer

    async def offer(self, backends: Mapping[str, str] | None = None) -> LanguageOffer:
        """`offer_now`, off the event loop."""
        return await anyio.to_thread.run_sync(self.offer_now, backends)

    async def check(self, request: UploadRequest) -> None:
        """Refuse an upload asking for a pair its backends cannot dub, before any work.

        Raises:
            UnsupportedLanguagePairError: no translator reaches a target (the error lists the reachable ones).
            UnknownLanguageError: no voice speaks a target, or the transcriber does not know the source.
            BackendError: a chosen backend cannot be used here.
        """
        offer = await self.offer(request.backends)
        for target in request.target_languages:
            offer.check(request.source_language, target)
