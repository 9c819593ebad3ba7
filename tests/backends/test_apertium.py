"""The Apertium translator with Debian's apertium and apertium-eng-spa."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dubkit.backends.apertium import ApertiumTranslator, _parse_modes
from dubkit.backends.protocols import TranslationCandidate
from dubkit.errors import BackendUnavailableError, UnsupportedLanguagePairError
from dubkit.testing.conformance import check_backend

needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed")


@pytest.fixture(scope="module")
def translator():
    backend = ApertiumTranslator()
    if shutil.which("apertium") is None or ("en", "es") not in backend.language_pairs():
        pytest.skip("apertium with the eng-spa pair is not installed")
    with backend:
        yield backend


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every process the translator starts."""
    calls: list[list[str]] = []
    real = subprocess.run

    def spy(argv, *args, **kwargs):
        calls.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    return calls


@needs_apertium
def test_lists_the_installed_pairs_as_iso_639_1(translator) -> None:
    pairs = translator.language_pairs()
    assert ("en", "es") in pairs
    assert ("es", "en") in pairs
    assert all(len(s) == 2 and len(t) == 2 for s, t in pairs)


@needs_apertium
def test_all_lines_go_through_one_process(translator, runs) -> None:
    texts = [
        "Hello, my friend.",
        "The dog eats",  # no final punctuation: must not run into the next line
        "",
        "Where is the station?",
        '-v is not an option, "quoted" text',
        "line one\nline two",
        "Mr. Smith went to Washington.",
    ]
    results = translator.translate(texts, "en", "es", 1)
    assert len(runs) == 1
    assert len(results) == len(texts)
    texts_out = []
    for candidates in results:
        assert len(candidates) == 1
        (candidate,) = candidates
        assert isinstance(candidate, TranslationCandidate)
        texts_out.append(candidate.text)
    assert texts_out[0] == "Hola, mi amigo."
    assert "perro" in texts_out[1].lower()
    assert texts_out[2] == ""
    assert "Dónde" in texts_out[3]
    assert texts_out[4].startswith("-v")
    assert "\n" not in texts_out[5]
    assert texts_out[6].endswith("Washington.")


@needs_apertium
def test_reports_untranslated_words_without_the_marks(translator) -> None:
    ((candidate,),) = translator.translate(["The blorfy cat sat on the mat."], "en", "es", 3)
    assert isinstance(candidate, TranslationCandidate)
    assert candidate.untranslated == ("blorfy",)
    assert "*" not in candidate.text
    assert "blorfy" in candidate.text
    assert "gato" in candidate.text


@needs_apertium
def test_an_asterisk_in_the_source_is_not_an_unknown_word(translator) -> None:
    ((candidate,),) = translator.translate(["five * three"], "en", "es", 1)
    assert isinstance(candidate, TranslationCandidate)
    assert candidate.untranslated == ()
    assert "*" in candidate.text


@needs_apertium
def test_an_uninstalled_pair_is_a_typed_error(translator) -> None:
    with pytest.raises(UnsupportedLanguagePairError) as info:
        translator.translate(["hello"], "en", "ja", 1)
    assert "en-es" in info.value.supported


def test_a_missing_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    backend = ApertiumTranslator()
    with pytest.raises(BackendUnavailableError) as info:
        backend.load()
    assert "apt-get install apertium" in (info.value.install or "")
    with pytest.raises(BackendUnavailableError):
        backend.language_pairs()


def test_modes_map_to_iso_639_1_and_prefer_plain_modes() -> None:
    modes = _parse_modes(
        ["  spa-eng_US", "  eng-spa", "  spa-eng", "  eng-spa-tagger", "  xyz-eng", "  oci_aran-cat"]
    )
    assert modes == {("en", "es"): "eng-spa", ("es", "en"): "spa-eng", ("oc", "ca"): "oci_aran-cat"}


def test_modes_of_every_debian_naming_are_found() -> None:
    # What `apertium -l` lists with Debian 12's English and Spanish pairs installed.
    listed = [
        "Cyrl-Latn",
        "cat-eng",
        "cat-eng_US",
        "en-eo-bytecode-cg",
        "en-eo-bytecode",
        "en-eo",
        "en-gl",
        "eng-cat",
        "eng-cat_valencia",
        "eng-hbs",
        "eng-hbs_BS",
        "eng-hbs_HR",
        "eng-hbs_SR",
        "eo-en-j",
        "eo-en",
        "eco-es-fr",
        "es-pt_BR",
        "es-pt",
        "eu-en",
        "gl-en",
        "hbs-eng",
        "isl-eng",
        "mkd-eng",
        "ro-es",
        "spa-cat_valencia",
        "spa-cat",
        "zlm-ind",
    ]
    modes = _parse_modes(listed)
    assert modes[("en", "gl")] == "en-gl" and modes[("gl", "en")] == "gl-en"  # ISO 639-1 names
    assert modes[("en", "eo")] == "en-eo" and modes[("eo", "en")] == "eo-en"  # not the debugging modes
    assert modes[("en", "ca")] == "eng-cat" and modes[("es", "ca")] == "spa-cat"  # plain before variants
    assert modes[("es", "pt")] == "es-pt"
    assert modes[("en", "hr")] == "eng-hbs_HR" and modes[("en", "sr")] == "eng-hbs_SR"
    assert modes[("hr", "en")] == modes[("sr", "en")] == "hbs-eng"  # Serbo-Croatian reads both
    assert modes[("ms", "id")] == "zlm-ind"  # Malay's individual code
    assert ("eu", "en") in modes and ("is", "en") in modes and ("mk", "en") in modes
    assert not any(mode.startswith(("Cyrl", "eco")) for mode in modes.values())


@needs_apertium
def test_a_missing_pair_names_the_debian_package_that_brings_it(translator) -> None:
    with pytest.raises(UnsupportedLanguagePairError) as info:
        translator.translate(["hello"], "af", "nl", 1)
    assert info.value.install is not None and "apertium-afr-nld" in info.value.install
    assert "apertium-afr-nld" in str(info.value)


@needs_apertium
def test_every_installed_pair_is_used(translator) -> None:
    pairs = translator.language_pairs()
    wanted = {("en", "ca"): "Good morning.", ("es", "pt"): "Buenos días.", ("fr", "es"): "Bonjour."}
    for (source, target), text in wanted.items():
        if (source, target) not in pairs:  # ./dev.sh installs these; a machine without them skips none
            pytest.fail(f"apertium pair {source}-{target} is not installed (./dev.sh installs it)")
        ((candidate,),) = translator.translate([text], source, target, 1)
        assert isinstance(candidate, TranslationCandidate) and candidate.text.strip()
        assert candidate.text != text


def test_marks_left_by_the_generator_are_removed() -> None:
    from dubkit.backends.apertium import _candidate

    candidate = _candidate("The weather is nice today.", "@The #vrijeme @i #lijep danas#.")
    assert candidate.text == "The vrijeme i lijep danas."
    assert candidate.untranslated == ("The",)
    assert _candidate("mail @bob", "correo @bob").text == "correo @bob"  # the source had it


def test_conforms(translator, tmp_path) -> None:
    check_backend("translator", ApertiumTranslator, workdir=tmp_path, language="en", target="es")
