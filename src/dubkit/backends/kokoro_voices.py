"""Kokoro's voices: names, blends, and the pool of distinct voices offered to speakers.

A Kokoro voice is a table of style vectors (510 x 1 x 256, one row per phoneme count). Its name says
its accent and gender: ``jf_alpha`` is a Japanese (``j``) female (``f``) voice; ``am_adam`` an American
English male. Style vectors can be mixed, so a voice id may be a blend of named voices with weights:
``jm_kumo:0.75+jf_alpha:0.25``. Weights need not add up to one (they are normalised).

`voice_pool` offers the named voices, then blends (pairs of one register at even weights, and each
voice with a quarter of one of the other register, which keeps its register: measured, a quarter of
a female voice lifts ``jm_kumo`` from about 96 Hz to 123-135 Hz), so that a handful of shipped voices
gives many distinct speakers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

from dubkit.models.languages import get_language
from dubkit.models.speech import Voice

__all__ = [
    "KOKORO_LANGUAGES",
    "MEASURED_PITCH",
    "BlendPart",
    "describe",
    "parse_voice_id",
    "voice_gender",
    "voice_pool",
]

#: ISO 639-1 code -> the espeak-ng language Kokoro's phonemes come from, for the languages Kokoro-82M speaks.
KOKORO_LANGUAGES: Mapping[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr-fr",
    "it": "it",
    "pt": "pt-br",
    "hi": "hi",
    "ja": "ja",
    "zh": "cmn",
}

#: Median F0 (Hz) of the voices that ship, measured speaking Spanish and English (within 3%).
MEASURED_PITCH: Mapping[str, float] = {
    "jf_alpha": 268.0,
    "jf_gongitsune": 226.0,
    "jf_nezumi": 245.0,
    "jf_tebukuro": 327.0,
    "jm_kumo": 96.0,
}

# Kokoro's first letter of a voice name: the language it was made for.
_ACCENTS = {"a": "en", "b": "en", "e": "es", "f": "fr", "h": "hi", "i": "it", "j": "ja", "p": "pt", "z": "zh"}
_TYPICAL_PITCH = {"female": 220.0, "male": 120.0}
_GENDERS = {"f": "female", "m": "male"}
_CROSS_WEIGHT = 0.25
_MAX_POOL = 48


@attrs.frozen(slots=True)
class BlendPart:
    """One named voice in a (possibly blended) voice id, with its weight (the weights add up to 1)."""

    name: str
    weight: float


def parse_voice_id(voice_id: str) -> tuple[BlendPart, ...]:
    """The named voices and weights of a voice id (``jf_alpha`` or ``jm_kumo:0.75+jf_alpha:0.25``).

    Raises:
        ValueError: an empty name, a weight that is not a positive number, or a name twice.
    """
    parts: list[tuple[str, float]] = []
    for piece in voice_id.split("+"):
        name, sep, weight_text = piece.strip().partition(":")
        name = name.strip()
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise ValueError(f"{weight_text!r} is not a weight in voice {voice_id!r}") from None
        if not name or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"voice {voice_id!r} needs names with positive weights (a:0.7+b:0.3)")
        if any(name == seen for seen, _ in parts):
            raise ValueError(f"{name!r} appears twice in voice {voice_id!r}")
        parts.append((name, weight))
    total = sum(weight for _, weight in parts)
    return tuple(BlendPart(name, weight / total) for name, weight in parts)


def voice_gender(name: str) -> str | None:
    """``female`` or ``male`` from a Kokoro voice name's second letter (``jf_alpha``), else ``None``."""
    return _GENDERS.get(name[1]) if len(name) > 2 and name[2] == "_" else None


def _pitch(name: str) -> float | None:
    known = MEASURED_PITCH.get(name)
    if known is not None:
        return known
    gender = voice_gender(name)
    return _TYPICAL_PITCH[gender] if gender else None


def _blend_pitch(parts: Sequence[BlendPart]) -> float | None:
    """Estimated F0 of a blend: the weighted geometric mean of its voices' pitches."""
    logs = 0.0
    for part in parts:
        pitch = _pitch(part.name)
        if pitch is None:
            return None
        logs += part.weight * math.log(pitch)
    return round(math.exp(logs), 1)


def _blend_gender(parts: Sequence[BlendPart]) -> str | None:
    """The gender all its voices share, else that of a voice weighing more than half, else ``None``."""
    genders = {voice_gender(p.name) for p in parts}
    if len(genders) == 1:
        return genders.pop()
    heaviest = max(parts, key=lambda p: p.weight)
    return voice_gender(heaviest.name) if heaviest.weight > 0.5 else None


def describe(voice_id: str, language: str) -> Voice:
    """A `Voice` for a Kokoro voice id, with its gender and (measured or estimated) pitch."""
    parts = parse_voice_id(voice_id)
    if len(parts) == 1:
        label = f"Kokoro {parts[0].name}"
    else:
        label = "Kokoro " + " + ".join(f"{round(p.weight * 100)}% {p.name}" for p in parts)
    return Voice(
        id=voice_id, language=language, label=label, gender=_blend_gender(parts), pitch=_blend_pitch(parts)
    )


def _native_first(names: Sequence[str], language: str) -> list[str]:
    code = get_language(language).code
    return sorted(names, key=lambda n: (_ACCENTS.get(n[:1]) != code, names.index(n)))


def voice_pool(names: Sequence[str], language: str, *, blends: bool = True) -> list[Voice]:
    """Distinct voices for ``language``: the named ones (those made for it first), then blends.

    Args:
        names: The voice names in the voices file, in file order.
        language: ISO 639-1 code of the speech.
        blends: Add blends after the named voices.
    """
    ordered = _native_first(names, language)
    out = [describe(name, language) for name in ordered]
    if not blends:
        return out
    by_gender: dict[str, list[str]] = {"female": [], "male": []}
    for name in ordered:
        gender = voice_gender(name)
        if gender is not None and len(by_gender[gender]) < 6:
            by_gender[gender].append(name)
    ids: list[str] = []
    for group in by_gender.values():
        ids += [f"{a}:0.5+{b}:0.5" for i, a in enumerate(group) for b in group[i + 1 :]]
    for gender, group in by_gender.items():
        others = by_gender["male" if gender == "female" else "female"]
        share = _CROSS_WEIGHT
        ids += [f"{a}:{1 - share:g}+{b}:{share:g}" for a in group for b in others]
    out += [describe(voice_id, language) for voice_id in ids]
    return out[:_MAX_POOL] if len(out) > _MAX_POOL else out
