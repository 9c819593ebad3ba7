"""Which Debian package brings which Apertium language pair, for install hints.

The table lists Debian 12 (bookworm) ``apertium-*`` packages whose languages dubkit knows, with the
directions each one installs. Directions marked as checked were read from the modes the package
installs (``dpkg -L``); the others are assumed to go both ways, as most Apertium pairs do, so a hint
for one of them says so.
"""

from __future__ import annotations

import attrs

__all__ = ["APERTIUM_PACKAGES", "ApertiumPackage", "apertium_install_hint"]


@attrs.frozen(slots=True)
class ApertiumPackage:
    """A Debian package of Apertium language data.

    Attributes:
        name: The package (``apertium-eng-spa``).
        pairs: The (source, target) directions it installs, as ISO 639-1 codes.
        checked: Whether ``pairs`` was read from the installed modes (else assumed both ways).
    """

    name: str
    pairs: frozenset[tuple[str, str]]
    checked: bool = False


def _both(*pairs: tuple[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(p for a, b in pairs for p in ((a, b), (b, a)))


def _one(*pairs: tuple[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(pairs)


_P = ApertiumPackage
APERTIUM_PACKAGES: tuple[ApertiumPackage, ...] = (
    _P("apertium-eng-spa", _both(("en", "es")), checked=True),
    _P("apertium-eng-cat", _both(("en", "ca")), checked=True),
    _P("apertium-en-gl", _both(("en", "gl")), checked=True),
    _P("apertium-eo-en", _both(("eo", "en")), checked=True),
    _P("apertium-eu-en", _one(("eu", "en")), checked=True),
    _P("apertium-hbs-eng", _both(("hr", "en"), ("sr", "en")), checked=True),
    _P("apertium-isl-eng", _one(("is", "en")), checked=True),
    _P("apertium-mkd-eng", _one(("mk", "en")), checked=True),
    _P("apertium-fr-es", _both(("fr", "es")), checked=True),
    _P("apertium-es-pt", _both(("es", "pt")), checked=True),
    _P("apertium-spa-ita", _both(("es", "it")), checked=True),
    _P("apertium-es-ro", _one(("ro", "es")), checked=True),
    _P("apertium-spa-cat", _both(("es", "ca")), checked=True),
    _P("apertium-es-gl", _both(("es", "gl")), checked=True),
    _P("apertium-afr-nld", _both(("af", "nl"))),
    _P("apertium-cat-ita", _both(("ca", "it"))),
    _P("apertium-dan-nor", _both(("da", "nb"))),
    _P("apertium-eo-ca", _both(("eo", "ca"))),
    _P("apertium-eo-es", _both(("eo", "es"))),
    _P("apertium-eo-fr", _both(("eo", "fr"))),
    _P("apertium-eu-es", _both(("eu", "es"))),
    _P("apertium-fra-cat", _both(("fr", "ca"))),
    _P("apertium-hbs-mkd", _both(("hr", "mk"), ("sr", "mk"))),
    _P("apertium-hbs-slv", _both(("hr", "sl"), ("sr", "sl"))),
    _P("apertium-ind-zlm", _both(("id", "ms"))),
    _P("apertium-isl-swe", _both(("is", "sv"))),
    _P("apertium-mkd-bul", _both(("mk", "bg"))),
    _P("apertium-oc-ca", _both(("oc", "ca"))),
    _P("apertium-oc-es", _both(("oc", "es"))),
    _P("apertium-oci-fra", _both(("oc", "fr"))),
    _P("apertium-por-cat", _both(("pt", "ca"))),
    _P("apertium-pt-gl", _both(("pt", "gl"))),
    _P("apertium-rus-ukr", _both(("ru", "uk"))),
    _P("apertium-swe-dan", _both(("sv", "da"))),
    _P("apertium-swe-nor", _both(("sv", "nb"))),
    _P("apertium-urd-hin", _both(("ur", "hi"))),
)
"""Debian bookworm's Apertium pairs among dubkit's languages (``apt-cache search apertium``)."""


def apertium_install_hint(source: str, target: str) -> str | None:
    """The ``apt-get install`` command that brings an Apertium pair for ``source`` -> ``target``.

    Returns:
        The command (noting when the direction is assumed), or ``None`` when Debian has no such pair.
    """
    for package in APERTIUM_PACKAGES:
        if (source, target) in package.pairs:
            note = "" if package.checked else f" (if it translates {source} -> {target})"
            return f"apt-get install apertium {package.name}{note}"
    return None
