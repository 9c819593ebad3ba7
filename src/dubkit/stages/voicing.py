"""The synthesizers that voice one run, first choice first, each with a voice cast for every speaker.

The first synthesizer voices every line it can say; a line it cannot say
(`dubkit.errors.UnspeakableTextError`) goes to the next one. Each synthesizer's casting is made the
first time it is needed (`dubkit.stages.casting`), from the speakers' measured pitch and the voices it
offers; a voice whose pitch the synthesizer does not give is measured once on a short counting phrase
(cached with the clips), when there is a speaker's pitch to match it with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Synthesizer, synthesizer_voices
from dubkit.errors import DubkitError
from dubkit.models.speech import SpeakerProfile, Voice
from dubkit.stages.casting import cast_voices

__all__ = ["CALIBRATION_TEXT", "MAX_CALIBRATED", "VoiceChain"]

log = logging.getLogger(__name__)

#: What a voice says to have its pitch measured: numbers, which every synthesizer reads in its language.
CALIBRATION_TEXT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10."
#: Voices of one synthesizer measured at most (those it offers first).
MAX_CALIBRATED = 16

Measure = Callable[[BackendBinding[Synthesizer], Voice], "float | None"]


class VoiceChain:
    """The run's synthesizers, first choice first, and each one's casting (made on first use).

    Args:
        bindings: The synthesizers that speak the target language, first choice first (at least one).
        language: The target language.
        profiles: The speakers and how they sound.
        overrides: Speaker -> voice chosen by a person; applies to the first synthesizer.
        measure: Measures a voice's median pitch (Hz), or ``None`` when it cannot.
    """

    def __init__(
        self,
        bindings: Sequence[BackendBinding[Synthesizer]],
        language: str,
        profiles: Sequence[SpeakerProfile],
        overrides: Mapping[str, Voice],
        measure: Measure,
    ) -> None:
        if not bindings:
            raise ValueError("a voice chain needs a synthesizer")
        self.bindings = tuple(bindings)
        self.language = language
        self.profiles = tuple(profiles)
        self._overrides = dict(overrides)
        self._measure = measure
        self._casts: dict[int, dict[str, Voice]] = {}
        self._lock = threading.Lock()

    @property
    def primary(self) -> BackendBinding[Synthesizer]:
        """The first choice."""
        return self.bindings[0]

    def index_of(self, name: str) -> int:
        """Position of the synthesizer registered as ``name`` (0 when it is not in the chain)."""
        return next((i for i, b in enumerate(self.bindings) if b.name == name), 0)

    def voices(self, index: int) -> dict[str, Voice]:
        """Speaker -> voice for synthesizer ``index`` (cast on first call; thread-safe)."""
        with self._lock:
            if index not in self._casts:
                self._casts[index] = self._cast(index)
            return self._casts[index]

    def voice(self, index: int, speaker: str) -> Voice:
        """The voice synthesizer ``index`` speaks ``speaker``'s lines with."""
        cast = self.voices(index)
        return cast.get(speaker) or next(iter(cast.values()), None) or self._offered(index)[0]

    def _offered(self, index: int) -> list[Voice]:
        binding = self.bindings[index]
        offered = list(synthesizer_voices(binding.instance, self.language))
        return offered or [Voice(id=self.language, language=self.language)]

    def _cast(self, index: int) -> dict[str, Voice]:
        offered = self._offered(index)
        if len(offered) > 1 and any(p.pitch is not None for p in self.profiles):
            offered = self._with_pitch(index, offered)
        overrides = self._overrides if index == 0 else {}
        profiles = self.profiles or (SpeakerProfile(speaker="SPEAKER_00"),)
        return cast_voices(profiles, offered, overrides)

    def _with_pitch(self, index: int, offered: list[Voice]) -> list[Voice]:
        binding = self.bindings[index]
        out = []
        measured = 0
        for voice in offered:
            if voice.pitch is None and measured < MAX_CALIBRATED:
                measured += 1
                try:
                    pitch = self._measure(binding, voice)
                except (DubkitError, OSError, RuntimeError, ValueError) as exc:
                    log.warning("cannot measure the pitch of %s voice %r: %s", binding.name, voice.id, exc)
                    pitch = None
                out.append(attrs.evolve(voice, pitch=pitch) if pitch is not None else voice)
            else:
                out.append(voice)
        return out
