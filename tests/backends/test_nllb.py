from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dubkit.backends.nllb import NLLBTranslator
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import build_options
from dubkit.errors import BackendUnavailableError, UnknownLanguageError, UnsupportedLanguagePairError
from dubkit.models.languages import LANGUAGES
from dubkit.testing import check_backend

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.tiny_models import nllb_model

    return nllb_model(tmp_path_factory.mktemp("nllb") / "model")


def options(model_dir: Path, **kw: Any) -> NLLBTranslator.Options:
    return NLLBTranslator.Options(model=str(model_dir), local_files_only=True, max_length=16, **kw)


@pytest.fixture(scope="module")
def translator(model_dir: Path) -> NLLBTranslator:
    backend = NLLBTranslator(options(model_dir, num_beams=2, batch_size=2))
    backend.load()
    return backend


def test_constructing_imports_nothing_heavy(model_dir: Path) -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.nllb import NLLBTranslator as T\n"
        f"b = T(T.Options(model={str(model_dir)!r}, local_files_only=True))\n"
        "assert ('en', 'es') in b.language_pairs()\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentencepiece') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_from_a_mapping() -> None:
    opts = build_options(
        BackendKind.TRANSLATOR, "nllb", NLLBTranslator.Options, {"num_beams": 8, "device": "cpu"}
    )
    assert opts.num_beams == 8
    assert opts.model == "facebook/nllb-200-distilled-600M"


def test_n_best_candidates_per_line(translator: NLLBTranslator) -> None:
    texts = ["hello world", "", "the quick brown fox jumps over the lazy dog", "  ", "hola mundo"]
    out = translator.translate(texts, "en", "es", 3)
    assert len(out) == len(texts)
    for text, candidates in zip(texts, out, strict=True):
        assert len(candidates) in (1, 2, 3)
        assert all(isinstance(c, str) for c in candidates)
        if not text.strip():
            assert candidates == [""]
        else:
            assert len(set(candidates)) == len(candidates), "candidates are distinct"
    one = translator.translate(["hello world"], "en", "es", 1)
    assert len(one) == 1 and len(one[0]) == 1


def test_beam_search_is_deterministic(translator: NLLBTranslator) -> None:
    a = translator.translate(["hello world", "how are you"], "en", "fr", 2)
    b = translator.translate(["how are you", "hello world"], "en", "fr", 2)
    assert a[0] == b[1] and a[1] == b[0], "batching and order do not change a line's result"


def test_language_pairs(translator: NLLBTranslator, model_dir: Path) -> None:
    pairs = translator.language_pairs()
    assert pairs is not None
    assert ("en", "es") in pairs and ("es", "en") in pairs
    assert all(s != t for s, t in pairs)
    # The tiny tokenizer knows every NLLB-200 code, so every dubkit language NLLB-200 has is there.
    assert {s for s, _ in pairs} == {lang.code for lang in LANGUAGES if lang.nllb}
    # Before load, the same answer is read from tokenizer.json without transformers.
    assert NLLBTranslator(options(model_dir)).language_pairs() == pairs


def test_unknown_language_is_a_typed_error(translator: NLLBTranslator) -> None:
    with pytest.raises(UnknownLanguageError):
        translator.translate(["hello"], "en", "xx", 1)
    with pytest.raises(UnknownLanguageError):
        translator.translate(["hello"], "", "es", 1)


def test_a_language_the_tokenizer_lacks(translator: NLLBTranslator) -> None:
    translator._codes = frozenset({"en", "es"})  # as for a model trained on two languages
    try:
        with pytest.raises(UnsupportedLanguagePairError) as info:
            translator.translate(["hello"], "en", "de", 1)
        assert info.value.target == "de"
        assert translator.language_pairs() == {("en", "es"), ("es", "en")}
    finally:
        translator._codes = None
        translator.close()
        translator.load()


def test_conforms(model_dir: Path, tmp_path: Path) -> None:
    check_backend("translator", lambda: NLLBTranslator(options(model_dir, num_beams=2)), workdir=tmp_path)


def test_a_missing_model_is_a_typed_error(tmp_path: Path) -> None:
    backend = NLLBTranslator(NLLBTranslator.Options(model=str(tmp_path / "nope"), local_files_only=True))
    with pytest.raises(BackendUnavailableError):
        backend.load()
    assert not backend.loaded


def test_an_import_failure_carries_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes the import raise ImportError
    with pytest.raises(BackendUnavailableError) as info:
        NLLBTranslator().load()
    assert info.value.install == "pip install 'dubkit[nllb]'"
