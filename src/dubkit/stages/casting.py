"""Casting: a voice for each speaker, chosen by how the speaker sounds.

Speakers are cast in order of how much they speak (the main speakers choose first). Each takes, of the
voices still free, one in the same register (female or male, by the side of 165 Hz its median F0 is
on, or the gender the synthesizer gives), the closest in pitch; when no voice of their register is
left, one already taken in their register (the least used, then the closest) before one of the other
register. A speaker whose pitch could not be measured takes the free voices in the synthesizer's order.
Voices a person chose (edits in the dub project) are kept and taken by no one else while others are free.
The result depends only on its inputs: the same speakers and voices always get the same casting.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from dubkit.models.speech import SpeakerProfile, Voice

__all__ = ["cast_voices"]


def _distance(profile: SpeakerProfile, voice: Voice) -> float:
    if profile.pitch is None or voice.pitch is None or voice.pitch <= 0:
        return 0.0
    return abs(math.log(voice.pitch / profile.pitch))


def _pick(profile: SpeakerProfile, offered: Sequence[Voice], uses: Counter[str]) -> Voice:
    register = profile.register

    def cost(item: tuple[int, Voice]) -> tuple[int, int, float, int]:
        index, voice = item
        mismatch = int(register is not None and voice.register is not None and voice.register != register)
        return mismatch, uses[voice.id], _distance(profile, voice), index

    return min(enumerate(offered), key=cost)[1]


def cast_voices(
    profiles: Sequence[SpeakerProfile], offered: Sequence[Voice], overrides: Mapping[str, Voice]
) -> dict[str, Voice]:
    """A voice for each speaker of ``profiles``.

    Args:
        profiles: The speakers, with how long they speak and their median pitch (order of first appearance).
        offered: The synthesizer's voices for the target language, best first (at least one).
        overrides: Speaker -> a voice a person chose; kept as it is.

    Returns:
        Speaker -> voice, in the order of ``profiles``.

    Raises:
        ValueError: ``offered`` is empty and a speaker has no override.
    """
    uses: Counter[str] = Counter(voice.id for voice in overrides.values())
    chosen: dict[str, Voice] = {}
    ranked = sorted(enumerate(profiles), key=lambda item: (-item[1].seconds, item[0]))
    for _, profile in ranked:
        if profile.speaker in overrides:
            chosen[profile.speaker] = overrides[profile.speaker]
            continue
        if not offered:
            raise ValueError("the synthesizer offers no voice")
        voice = _pick(profile, offered, uses)
        uses[voice.id] += 1
        chosen[profile.speaker] = voice
    return {profile.speaker: chosen[profile.speaker] for profile in profiles}
