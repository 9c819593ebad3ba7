"""A synthesizer that breaks the protocol: no synthesize() and a plugin API from the future."""

from __future__ import annotations


class BrokenVoice:
    """Not a valid synthesizer."""

    plugin_api = 99

    def load(self) -> None:
        """Nothing to load."""

    def close(self) -> None:
        """Nothing to close."""

    def speak(self, text: str) -> bytes:
        """The wrong method name."""
        return text.encode()
