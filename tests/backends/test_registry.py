"""The backend registry: listing without importing, lazy loading, validation, conflicts, options."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest

from dubkit.backends import BaseTranslator, NoOptions, Registry
from dubkit.backends.catalog import BUILTIN_BACKENDS, BackendSpec
from dubkit.backends.protocols import BackendKind
from dubkit.errors import (
    BackendConflictError,
    BackendUnavailableError,
    BackendValidationError,
    ConfigError,
    UnknownBackendError,
)


def _ep(name: str, value: str, group: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=group)


class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


def test_lists_every_builtin_and_the_installed_sample_plugin() -> None:
    registry = Registry()
    names = {(s.kind, s.name) for s in registry.specs()}
    for spec in BUILTIN_BACKENDS:
        assert (spec.kind, spec.name) in names
    plugin = registry.spec("synthesizer", "sine-voice")
    assert plugin.distribution == "dubkit-sample-plugin"
    assert plugin.version == "0.3.1"
    assert not plugin.builtin


def test_listing_imports_no_backend_module() -> None:
    code = textwrap.dedent(
        """
        import sys
        from dubkit.backends import Registry
        r = Registry()
        specs = r.specs()
        for s in specs:
            r.availability(s)
        targets = {s.target.split(":")[0] for s in specs}
        heavy = ("dubkit_sample_plugin", "torch", "faster_whisper", "resemblyzer", "silero_vad",
                 "transformers", "whisper", "pyannote")
        loaded = sorted(m for m in sys.modules if m.startswith(heavy) or m in targets)
        print(len(specs), loaded)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, loaded = out.split(" ", 1)
    assert int(count) >= len(BUILTIN_BACKENDS) + 2
    assert loaded.strip() == "[]"


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(UnknownBackendError) as info:
        Registry().spec("translator", "babelfish")
    assert "apertium" in info.value.known
    assert "nllb" in str(info.value)


def test_missing_extra_names_the_pip_command() -> None:
    spec = BackendSpec(
        kind=BackendKind.TRANSCRIBER,
        name="ghost",
        target="dubkit_ghost_backend:Ghost",
        extra="ghost",
        requires=("dubkit-ghost-backend",),
    )
    registry = Registry(builtins=[spec], discover_plugins=False)
    assert not registry.availability(spec).available
    with pytest.raises(BackendUnavailableError) as info:
        registry.load_class("transcriber", "ghost")
    assert info.value.install == "pip install 'dubkit[ghost]'"
    assert "pip install 'dubkit[ghost]'" in str(info.value)
    # an import that fails although the metadata says installed is also "unavailable", with the hint
    broken = BackendSpec(
        kind=BackendKind.TRANSCRIBER, name="ghost2", target="dubkit_ghost_backend:Ghost", extra="ghost"
    )
    with pytest.raises(BackendUnavailableError, match="import failed"):
        Registry(builtins=[broken], discover_plugins=False).load_class("transcriber", "ghost2")


def test_missing_binary_names_the_apt_package() -> None:
    spec = BackendSpec(
        kind=BackendKind.SYNTHESIZER,
        name="nope",
        target="dubkit.backends.espeak:X",
        binaries=("dubkit-no-such-program",),
        apt=("no-such-package",),
    )
    registry = Registry(builtins=[spec], discover_plugins=False)
    avail = registry.availability(spec)
    assert not avail.available
    assert avail.install == "apt-get install no-such-package"


def test_broken_plugin_fails_at_load_with_every_problem() -> None:
    registry = Registry()
    assert "broken-voice" in registry.names("synthesizer")  # listing still works
    with pytest.raises(BackendValidationError) as info:
        registry.load_class("synthesizer", "broken-voice")
    problems = " ".join(info.value.problems)
    assert "synthesize()" in problems
    assert "plugin API 99" in problems
    assert info.value.source is not None and "dubkit-sample-plugin" in info.value.source


def test_two_distributions_claiming_one_name_is_an_error_naming_both() -> None:
    def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
        if group != "dubkit.translators":
            return []
        a = _ep("twin", "dubkit_sample_plugin.shout:ShoutTranslator", group)
        b = _ep("twin", "dubkit_sample_plugin.shout:ShoutTranslator", group)
        object.__setattr__(a, "dist", _Dist("alpha-dubkit", "1.0"))
        object.__setattr__(b, "dist", _Dist("beta-dubkit", "2.0"))
        return [a, b]

    registry = Registry(entry_points=entry_points)
    claimants = [s.distribution for s in registry.specs("translator") if s.name == "twin"]
    assert claimants == ["alpha-dubkit", "beta-dubkit"]
    with pytest.raises(BackendConflictError) as info:
        registry.create("translator", "twin")
    assert "alpha-dubkit 1.0" in str(info.value)
    assert "beta-dubkit 2.0" in str(info.value)


def test_plugin_name_shadowing_a_builtin_is_a_conflict() -> None:
    def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
        if group != "dubkit.translators":
            return []
        ep = _ep("apertium", "dubkit_sample_plugin.shout:ShoutTranslator", group)
        object.__setattr__(ep, "dist", _Dist("sneaky", "0.1"))
        return [ep]

    with pytest.raises(BackendConflictError) as info:
        Registry(entry_points=entry_points).load_class("translator", "apertium")
    assert "sneaky" in str(info.value) and "dubkit" in str(info.value)


def test_options_are_typed_and_unknown_options_rejected() -> None:
    registry = Registry()
    vad = registry.create("vad", "energy", {"margin_db": 9})
    assert vad.options.margin_db == 9
    assert not vad.loaded  # the constructor loads nothing
    with pytest.raises(ConfigError) as info:
        registry.create("vad", "energy", {"margin": 9})
    assert "margin_db" in (info.value.hint or "")
    with pytest.raises(ConfigError):
        registry.create("vad", "energy", {"margin_db": "loud"})


def test_register_validates_a_class_given_in_code() -> None:
    class Echo(BaseTranslator[NoOptions]):
        def translate(self, texts, source, target, n_best):  # type: ignore[no-untyped-def]
            return [[t] for t in texts]

    class NotATranslator:
        plugin_api = 1

    registry = Registry(discover_plugins=False)
    registry.register("translator", "echo", Echo)
    assert registry.create("translator", "echo").translate(["hi"], "en", "es", 1) == [["hi"]]
    with pytest.raises(BackendValidationError):
        registry.register("translator", "bad", NotATranslator)
    with pytest.raises(BackendConflictError):
        registry.register("translator", "apertium", Echo)


def test_untrusted_names_are_never_import_paths() -> None:
    with pytest.raises(UnknownBackendError):
        Registry().create("translator", "os:system")
