"""What a voice is given to say: text with its whitespace tidied, and whether anything in it can be said."""

from __future__ import annotations

import re

__all__ = ["clean_text", "has_words"]

_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """The text as a voice reads it: whitespace runs collapsed, ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def has_words(text: str) -> bool:
    """Whether ``text`` holds anything to say: a letter or a digit (symbols alone say nothing)."""
    return any(ch.isalnum() for ch in text)
