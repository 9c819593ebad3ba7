"""Which synthesizer ``auto`` picks for a target language, from what is installed."""

from __future__ import annotations

import attrs
import pytest

from dubkit.backends import Registry
from dubkit.backends.catalog import BUILTIN_BACKENDS
from dubkit.backends.synthesizer_choice import (
    auto_choices,
    candidate_synthesizers,
    choose_synthesizer,
    synthesizer_chain,
)
from dubkit.errors import UnknownBackendError, UnknownLanguageError

pytest.importorskip("kokoro_onnx")
pytest.importorskip("piper")


def test_kokoro_where_it_speaks_espeak_ng_elsewhere() -> None:
    registry = Registry(discover_plugins=False)
    assert {lang: choose_synthesizer(registry, lang) for lang in ("es", "en", "fr", "zh", "de", "sw")} == {
        "es": "kokoro",
        "en": "kokoro",
        "fr": "kokoro",
        "zh": "kokoro",
        "de": "espeak-ng",
        "sw": "espeak-ng",
    }
    assert synthesizer_chain(registry, "en") == ("kokoro", "piper", "espeak-ng")
    assert synthesizer_chain(registry, "es", "piper") == ("espeak-ng",)  # piper lacks Spanish
    with pytest.raises(UnknownLanguageError):
        choose_synthesizer(registry, "xx")
    choices = auto_choices(registry)
    assert choices["kokoro"] == ["en", "es", "fr", "hi", "it", "ja", "pt", "zh"]
    assert "de" in choices["espeak-ng"] and "piper" not in choices


def test_what_is_not_installed_is_left_out() -> None:
    unavailable = tuple(
        attrs.evolve(s, requires=("no-such-distribution",)) if s.name in ("kokoro", "piper") else s
        for s in BUILTIN_BACKENDS
    )
    registry = Registry(unavailable, discover_plugins=False)
    assert candidate_synthesizers(registry, "auto") == ("espeak-ng",)
    assert choose_synthesizer(registry, "es") == "espeak-ng"
    assert candidate_synthesizers(registry, "mms") == ("mms", "espeak-ng")
    nothing = Registry([s for s in BUILTIN_BACKENDS if s.kind.value != "synthesizer"], discover_plugins=False)
    with pytest.raises(UnknownBackendError):
        candidate_synthesizers(nothing, "auto")
    assert candidate_synthesizers(nothing, "mine") == ("mine",)
