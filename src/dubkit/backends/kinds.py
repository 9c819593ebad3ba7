"""The kinds of backend (`BackendKind`), in a module of its own that imports nothing.

`dubkit.backends.protocols` re-exports it; the command line reads it from here, so that listing or
choosing a kind loads none of the protocols' value types.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BackendKind"]


class BackendKind(str, Enum):
    """The capabilities a backend can provide."""

    SEPARATOR = "separator"
    VAD = "vad"
    DIARIZER = "diarizer"
    TRANSCRIBER = "transcriber"
    TRANSLATOR = "translator"
    SYNTHESIZER = "synthesizer"

    @property
    def entry_point_group(self) -> str:
        """The entry-point group plugins register this kind under."""
        return {
            BackendKind.SEPARATOR: "dubkit.separators",
            BackendKind.VAD: "dubkit.vad",
            BackendKind.DIARIZER: "dubkit.diarizers",
            BackendKind.TRANSCRIBER: "dubkit.transcribers",
            BackendKind.TRANSLATOR: "dubkit.translators",
            BackendKind.SYNTHESIZER: "dubkit.synthesizers",
        }[self]
