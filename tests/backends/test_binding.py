from __future__ import annotations

import attrs

from dubkit.backends import BaseTranslator
from dubkit.backends.binding import BackendBinding


@attrs.frozen
class _Options:
    model: str = "m"
    token: str | None = attrs.field(default=None, repr=False)


class _Translator(BaseTranslator[_Options]):
    Options = _Options
    loads = 0

    def _load(self) -> None:
        type(self).loads += 1

    def translate(self, texts, source, target, n_best):  # type: ignore[no-untyped-def]
        return [[t] for t in texts]


def test_secrets_never_enter_the_fingerprint() -> None:
    binding = BackendBinding("translator", "t", _Translator(_Options(token="hf_secret")), version="1.0")
    fingerprint = binding.fingerprint()
    assert fingerprint == {"kind": "translator", "name": "t", "version": "1.0", "options": {"model": "m"}}
    assert "hf_secret" not in repr(fingerprint)


def test_loads_once_on_first_use_and_again_after_close() -> None:
    binding = BackendBinding("translator", "t", _Translator(), version="1.0")
    before = _Translator.loads
    assert binding.instance.loaded is False
    binding.get()
    binding.get()
    assert _Translator.loads - before == 1
    binding.close()
    binding.get()
    assert _Translator.loads - before == 2


def test_infinite_options_survive_a_json_round_trip() -> None:
    import json

    from dubkit.backends import Registry

    registry = Registry()
    vad = registry.create("vad", "silero")
    binding = BackendBinding("vad", "silero", vad)
    options = json.loads(json.dumps(binding.fingerprint()["options"]))
    assert registry.create("vad", "silero", options).options == vad.options
