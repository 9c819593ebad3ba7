"""A translator that 'translates' by upper-casing (any pair), with two candidates."""

from __future__ import annotations

from collections.abc import Sequence

from dubkit import BaseTranslator
from dubkit.backends import NoOptions


class ShoutTranslator(BaseTranslator[NoOptions]):
    """Upper-cases text; the second candidate drops the last word (a shorter alternative)."""

    def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
        """One or two candidates per text."""
        out = []
        for text in texts:
            first = text.upper()
            shorter = " ".join(first.split()[:-1]) or first
            out.append([first, shorter][: max(1, n_best)])
        return out
