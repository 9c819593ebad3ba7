"""What a translator is given beyond plain text: a sentence, the sentences around it, where it is spoken."""

from __future__ import annotations

import attrs

__all__ = ["TranslationUnit"]


@attrs.frozen(slots=True)
class TranslationUnit:
    """One sentence to translate, with its neighbours and its place in the audio.

    Attributes:
        text: The sentence (source language).
        before: The sentences said just before it, oldest first (context only: not to be translated).
        after: The sentences said just after it, in order (context only).
        spans: Where it is spoken, ``(start, end)`` seconds in the analysis track, in time order (one
            span per transcript line of the sentence).
    """

    text: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    spans: tuple[tuple[float, float], ...] = ()

    @property
    def start(self) -> float:
        """Where the first span starts (0 when there are none)."""
        return self.spans[0][0] if self.spans else 0.0

    @property
    def end(self) -> float:
        """Where the last span ends (0 when there are none)."""
        return self.spans[-1][1] if self.spans else 0.0
