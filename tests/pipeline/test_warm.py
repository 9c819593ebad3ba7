"""The warm-backend cache: loads once, lends each instance to one job at a time, evicts LRU over budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BackendKind, BaseTranscriber, Registry
from dubkit.backends.binding import BackendBinding
from dubkit.errors import ConfigError
from dubkit.models import AudioFile, SpeechRegion, Transcript
from dubkit.pipeline.warm import WarmBackends, WarmCheckout, parse_memory_size, resident_memory

MB = 1_000_000


class SizedTranscriber(BaseTranscriber["SizedTranscriber.Options"]):
    """Reports ``options.size`` bytes once loaded; counts loads and closes per model name."""

    @attrs.frozen
    class Options:
        model: str = "a"
        size: int = 10 * MB

    loads: ClassVar[dict[str, int]] = {}
    closes: ClassVar[dict[str, int]] = {}

    def _load(self) -> None:
        self.loads[self.options.model] = self.loads.get(self.options.model, 0) + 1

    def _close(self) -> None:
        self.closes[self.options.model] = self.closes.get(self.options.model, 0) + 1

    @property
    def memory_footprint(self) -> int:
        return self.options.size

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        return Transcript(language="en", segments=())


@pytest.fixture
def registry() -> Registry:
    SizedTranscriber.loads.clear()
    SizedTranscriber.closes.clear()
    registry = Registry()
    registry.register("transcriber", "sized", SizedTranscriber)
    return registry


def use(cache: WarmBackends, registry: Registry, model: str, size: int = 10 * MB) -> object:
    """One job: borrow the backend, load it, give it back; returns the instance it used."""
    with cache.checkout() as checkout:
        binding = checkout.bind(registry, BackendKind.TRANSCRIBER, "sized", {"model": model, "size": size})
        return binding.get()


def test_a_second_job_reuses_the_loaded_backend(registry: Registry) -> None:
    cache = WarmBackends(100 * MB)
    first = use(cache, registry, "a")
    second = use(cache, registry, "a")
    assert second is first
    assert SizedTranscriber.loads == {"a": 1}
    stats = cache.stats
    assert (stats.loads, stats.hits, stats.evictions, stats.resident_bytes) == (1, 1, 0, 10 * MB)


def test_other_options_are_another_backend(registry: Registry) -> None:
    cache = WarmBackends(100 * MB)
    use(cache, registry, "a")
    use(cache, registry, "b")
    use(cache, registry, "a")
    assert SizedTranscriber.loads == {"a": 1, "b": 1}
    assert cache.stats.entries == 2


def test_over_budget_the_least_recently_used_idle_backend_is_closed(registry: Registry) -> None:
    cache = WarmBackends(25 * MB)
    use(cache, registry, "a")
    use(cache, registry, "b")
    use(cache, registry, "a")  # a is now more recent than b
    use(cache, registry, "c")  # 30 MB > 25 MB: b goes first
    assert SizedTranscriber.closes == {"b": 1}
    use(cache, registry, "a")
    assert SizedTranscriber.loads == {"a": 1, "b": 1, "c": 1}  # a stayed warm
    assert cache.stats.resident_bytes == 20 * MB and cache.stats.evictions == 1


def test_a_tiny_budget_keeps_nothing_between_jobs(registry: Registry) -> None:
    cache = WarmBackends(1 * MB)
    use(cache, registry, "a")
    use(cache, registry, "a")
    assert SizedTranscriber.loads == {"a": 2} and SizedTranscriber.closes == {"a": 2}
    assert cache.stats.entries == 0


def test_a_backend_in_use_is_never_lent_twice_nor_evicted(registry: Registry) -> None:
    cache = WarmBackends(0)
    options = {"model": "a", "size": 10 * MB}
    with cache.checkout() as one, cache.checkout() as two:  # two jobs at once
        first = one.bind(registry, BackendKind.TRANSCRIBER, "sized", options).get()
        second = two.bind(registry, BackendKind.TRANSCRIBER, "sized", options).get()
        assert first is not second  # each job has its own instance
        assert SizedTranscriber.closes == {}  # over budget, but both are in use
    assert SizedTranscriber.closes == {"a": 2}  # released over a zero budget: both closed


def test_a_released_checkout_lends_nothing(registry: Registry) -> None:
    cache = WarmBackends()
    checkout = cache.checkout()
    checkout.release()
    with pytest.raises(ConfigError):
        checkout.bind(registry, BackendKind.TRANSCRIBER, "sized", None)


class Recording:
    """A `BackendSource` that keeps what the checkout lent, by kind."""

    def __init__(self, inner: WarmCheckout) -> None:
        self.inner = inner
        self.bound: dict[BackendKind, BackendBinding[Any]] = {}

    def bind(
        self, registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
    ) -> BackendBinding[Any]:
        self.bound[kind] = self.inner.bind(registry, kind, name, options)
        return self.bound[kind]


def test_build_pipeline_takes_its_backends_from_a_checkout(registry: Registry) -> None:
    config = PipelineConfig(transcriber="sized", vad="energy", diarizer="single")
    cache = WarmBackends()
    with cache.checkout() as checkout:
        first = Recording(checkout)
        build_pipeline(config, registry=registry, backends=first)
        first.bound[BackendKind.TRANSCRIBER].get()
    with cache.checkout() as checkout:
        second = Recording(checkout)
        build_pipeline(config, registry=registry, backends=second)
    assert second.bound[BackendKind.TRANSCRIBER] is first.bound[BackendKind.TRANSCRIBER]
    assert set(second.bound) == set(BackendKind)  # every backend of the pipeline came from the cache
    assert SizedTranscriber.loads == {"a": 1}


def test_footprint_falls_back_to_resident_memory_growth(registry: Registry) -> None:
    readings = iter([100 * MB, 130 * MB])

    class Plain(SizedTranscriber):
        memory_footprint = None  # type: ignore[assignment]

    registry.register("transcriber", "plain", Plain)
    cache = WarmBackends(measure=lambda: next(readings))
    with cache.checkout() as checkout:
        checkout.bind(registry, BackendKind.TRANSCRIBER, "plain", None).get()
    assert cache.stats.resident_bytes == 30 * MB
    assert resident_memory() > 0  # this platform has /proc


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("1.5g", 15 * 10**8), ("1000", 1000), ("4 KiB", 4096)],
)
def test_memory_sizes(text: str, expected: int) -> None:
    assert parse_memory_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "2XB", "-1GB", "iB"])
def test_bad_memory_sizes(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_memory_size(text)
