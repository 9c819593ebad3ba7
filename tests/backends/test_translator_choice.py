"""The translator chosen per language pair ("auto"): the real installed backends, in order of preference."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dubkit.backends import Registry
from dubkit.backends.apertium_packages import apertium_install_hint
from dubkit.backends.translator_choice import AUTO_TRANSLATORS, TranslatorChoice
from dubkit.errors import ConfigError, UnsupportedLanguagePairError
from dubkit.pipeline.build import PipelineConfig, bind_translators

pytest.importorskip("huggingface_hub")

HUB_MODEL = "facebook/nllb-200-distilled-600M"


def choice(**nllb: Any) -> TranslatorChoice:
    config = PipelineConfig.from_mapping({"backend_options": {"translator": {"nllb": nllb}}})
    return bind_translators(Registry(), config)


@pytest.fixture
def no_nllb_model(tmp_path: Path) -> dict[str, Any]:
    """NLLB installed, but its model neither on this machine nor to be fetched."""
    return {"model": HUB_MODEL, "cache_dir": str(tmp_path / "hf"), "local_files_only": True}


@pytest.fixture
def local_nllb(tmp_path: Path) -> dict[str, Any]:
    """An NLLB model folder on this machine (only its presence is looked at: nothing is loaded)."""
    folder = tmp_path / "nllb"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return {"model": str(folder)}


class _Hub(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(200 if self.path.startswith("/api/models/") else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A model hub on loopback that knows every model (where NLLB would fetch from)."""
    from huggingface_hub import constants

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_the_order_is_local_nllb_whisper_apertium_then_nllb_from_its_hub() -> None:
    assert [(a.name, a.model) for a in AUTO_TRANSLATORS] == [
        ("nllb", "local"),
        ("whisper-translate", None),
        ("apertium", None),
        ("nllb", "hub"),
    ]


def test_without_an_nllb_model_whisper_and_apertium_serve_their_pairs(no_nllb_model: dict[str, Any]) -> None:
    auto = choice(**no_nllb_model)
    assert not auto.named
    assert auto.for_pair("en", "es").name == "apertium"
    assert auto.for_pair("es", "en").name == "whisper-translate"  # into English Whisper comes first
    assert auto.for_pair("ja", "en").name == "whisper-translate"
    assert auto.for_pair("es", "pt").name == "apertium"
    assert auto.for_pair("en", "hr").name == "apertium"  # eng-hbs_HR
    with pytest.raises(UnsupportedLanguagePairError) as info:
        auto.for_pair("en", "ja")
    error = info.value
    assert error.backend == "auto" and error.reachable is not None
    assert {"es", "ca", "eo"} <= set(error.reachable) and "ja" not in error.reachable
    assert error.install is not None and f"huggingface-cli download {HUB_MODEL}" in error.install


def test_an_nllb_model_on_this_machine_serves_every_pair_first(local_nllb: dict[str, Any]) -> None:
    auto = choice(**local_nllb)
    assert auto.for_pair("en", "es").name == "nllb"
    assert auto.for_pair("en", "ja").name == "nllb"
    pairs = auto.pairs({"en", "es", "ja"})
    assert set(pairs.values()) == {"nllb"} and ("ja", "es") in pairs


def test_an_nllb_model_the_hub_can_serve_comes_last(no_nllb_model: dict[str, Any], hub: str) -> None:
    auto = choice(**{**no_nllb_model, "local_files_only": False})
    assert auto.for_pair("en", "ja").name == "nllb"  # only the hub's NLLB reaches it
    assert auto.for_pair("en", "es").name == "apertium"  # a 2.5 GB download is the last resort


def test_a_named_translator_always_wins() -> None:
    named = bind_translators(Registry(), PipelineConfig(translator="apertium"))
    assert named.named and named.for_pair("en", "es").name == "apertium"
    with pytest.raises(UnsupportedLanguagePairError) as info:
        named.for_pair("ja", "en")  # whisper-translate would, but apertium was named
    assert info.value.backend == "apertium" and info.value.reachable == []


def test_options_go_to_each_translator_by_name() -> None:
    with pytest.raises(ConfigError, match="per translator"):
        bind_translators(
            Registry(), PipelineConfig.from_mapping({"backend_options": {"translator": {"model": "x"}}})
        )


def test_a_missing_apertium_pair_names_its_debian_package() -> None:
    assert apertium_install_hint("en", "gl") == "apt-get install apertium apertium-en-gl"
    assert apertium_install_hint("af", "nl") == (
        "apt-get install apertium apertium-afr-nld (if it translates af -> nl)"
    )
    assert apertium_install_hint("es", "ro") is None  # Debian's es-ro pair only goes ro -> es
    assert apertium_install_hint("en", "ja") is None


def test_a_model_that_arrives_changes_the_choice_and_its_fingerprint(tmp_path: Path) -> None:
    folder = tmp_path / "nllb"
    folder.mkdir()
    before = choice(model=str(folder))
    assert before.for_pair("en", "es").name == "apertium"  # an empty folder is no model
    (folder / "config.json").write_text("{}")
    after = choice(model=str(folder))
    assert after.for_pair("en", "es").name == "nllb"
    assert after.fingerprint() != before.fingerprint()  # so a cached translation is not reused
