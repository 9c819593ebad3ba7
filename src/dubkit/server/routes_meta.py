"""What the server offers: health, backends, languages (no job, no owner data)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter

from dubkit._version import __version__
from dubkit.backends.registry import Registry
from dubkit.models.languages import LANGUAGES
from dubkit.pipeline.offer import language_name
from dubkit.server.deps import Owner, Services
from dubkit.server.routes_jobs import problems
from dubkit.server.schemas import (
    BackendOut,
    BackendsOut,
    Health,
    InstallHintOut,
    LanguageOut,
    LanguagePairOut,
    LanguagesOut,
)

__all__ = ["router"]

router = APIRouter()


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Health:
    """``{"status": "ok"}``: answered on the event loop, touching neither the store nor storage."""
    return Health(version=__version__)


def _listing(registry: Registry) -> BackendsOut:
    rows = []
    for spec in registry.specs():
        availability = registry.availability(spec)
        rows.append(
            BackendOut(
                stage=spec.kind.value,
                name=spec.name,
                available=availability.available,
                extra=spec.extra,
                builtin=spec.builtin,
                description=spec.description,
                reason=availability.reason,
            )
        )
    return BackendsOut(backends=rows)


@router.get("/backends", response_model=BackendsOut, responses=problems(), summary="Registered backends")
async def backends(_owner: Owner, services: Services) -> BackendsOut:
    """Every registered backend (built-in and plugins), whether it runs here, and the extra installing it."""
    return await anyio.to_thread.run_sync(_listing, services.registry)


@router.get("/languages", response_model=LanguagesOut, responses=problems(), summary="Language pairs")
async def languages(_owner: Owner, services: Services) -> LanguagesOut:
    """The (source, target) pairs the installed backends can dub, ``auto`` sources included.

    A pair can be dubbed when the transcriber hears the source, a translator reaches the target (with the
    ``auto`` translator: the best installed one for the pair) and a voice speaks it; an upload asking for
    another pair is refused (422) before any work. ``languages`` lists every code a job may name.
    """
    offer = await services.languages.offer()
    return LanguagesOut(
        languages=[LanguageOut(code=lang.code, name=lang.name) for lang in LANGUAGES],
        sources=[LanguageOut(code=code, name=language_name(code)) for code in ("auto", *offer.sources)],
        voices=dict(sorted(offer.voices.items())),
        pairs=[
            LanguagePairOut(
                source=p.source,
                target=p.target,
                translator=p.translator,
                synthesizer=p.synthesizer,
                sources=list(p.sources),
                translators=list(p.translators),
            )
            for p in offer.pairs
        ],
        translator=offer.translator,
        install_hints=[
            InstallHintOut(source=s, target=t, hint=hint)
            for (s, t), hint in sorted(offer.install_hints.items())
        ],
    )
