"""Casting as properties: distinct voices in the speaker's register, closest in pitch, edits kept, stable."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubkit.models.speech import FEMALE_PITCH_HZ, SpeakerProfile, Voice
from dubkit.stages.casting import cast_voices

pitches = st.one_of(st.none(), st.floats(min_value=70.0, max_value=400.0))
profiles = st.lists(
    st.builds(
        SpeakerProfile,
        speaker=st.text("ABCDEFGHIJ", min_size=1, max_size=3),
        seconds=st.floats(0, 600),
        pitch=pitches,
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda p: p.speaker,
)
voices = st.lists(
    st.builds(
        Voice,
        id=st.text("abcdefghijklmnop", min_size=1, max_size=4),
        language=st.just("es"),
        gender=st.sampled_from([None, "female", "male"]),
        pitch=pitches,
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda v: v.id,
)


def _enough(speakers: list[SpeakerProfile], offered: list[Voice]) -> bool:
    """Each register has a voice per speaker (speakers of unknown register count in both)."""
    unknown = sum(p.register is None for p in speakers)
    for register in ("female", "male"):
        wanted = sum(p.register == register for p in speakers) + unknown
        if sum(v.register in (register, None) for v in offered) < wanted:
            return False
    return len(offered) >= len(speakers)


@settings(max_examples=300, deadline=None)
@given(profiles, voices)
def test_every_speaker_gets_a_voice_and_the_same_inputs_the_same_casting(
    speakers: list[SpeakerProfile], offered: list[Voice]
) -> None:
    cast = cast_voices(speakers, offered, {})
    assert list(cast) == [p.speaker for p in speakers]
    assert all(voice in offered for voice in cast.values())
    assert cast_voices(speakers, offered, {}) == cast


@settings(max_examples=300, deadline=None)
@given(profiles, voices)
def test_speakers_get_voices_of_their_register_while_the_synthesizer_has_any(
    speakers: list[SpeakerProfile], offered: list[Voice]
) -> None:
    cast = cast_voices(speakers, offered, {})
    for profile in speakers:
        register = profile.register
        if register is not None and any(v.register == register for v in offered):
            assert cast[profile.speaker].register in (register, None)


@settings(max_examples=300, deadline=None)
@given(profiles, voices)
def test_voices_are_distinct_while_there_are_enough(
    speakers: list[SpeakerProfile], offered: list[Voice]
) -> None:
    cast = cast_voices(speakers, offered, {})
    if _enough(speakers, offered) and all(v.register is not None for v in offered):
        assert len({v.id for v in cast.values()}) == len(speakers)
    # never a voice used twice while a voice of the same register stays free
    uses = Counter(v.id for v in cast.values())
    for profile in speakers:
        voice = cast[profile.speaker]
        if uses[voice.id] > 1:
            free = [v for v in offered if uses[v.id] == 0 and v.register == voice.register]
            assert not free or voice.register is None


@settings(max_examples=300, deadline=None)
@given(profiles, voices, st.data())
def test_edits_are_kept_and_their_voices_left_to_their_speakers(
    speakers: list[SpeakerProfile], offered: list[Voice], data: st.DataObject
) -> None:
    edited = data.draw(st.lists(st.sampled_from([p.speaker for p in speakers]), unique=True))
    overrides = {speaker: data.draw(st.sampled_from(offered)) for speaker in edited}
    cast = cast_voices(speakers, offered, overrides)
    for speaker, voice in overrides.items():
        assert cast[speaker] == voice
    taken = {v.id for v in overrides.values()}
    for profile in speakers:
        voice = cast[profile.speaker]
        if profile.speaker not in overrides and voice.id in taken:
            free = [v for v in offered if v.id not in {c.id for c in cast.values()}]
            assert not [v for v in free if v.register == voice.register]


def test_a_speaker_gets_the_closest_voice_of_their_register() -> None:
    offered = [
        Voice("low", "es", gender="male", pitch=96.0),
        Voice("mid", "es", gender="male", pitch=130.0),
        Voice("alto", "es", gender="female", pitch=190.0),
        Voice("soprano", "es", gender="female", pitch=300.0),
    ]
    speakers = [
        SpeakerProfile("deep", 10.0, 90.0),
        SpeakerProfile("tenor", 30.0, 140.0),
        SpeakerProfile("high", 5.0, 280.0),
        SpeakerProfile("low-woman", 20.0, FEMALE_PITCH_HZ + 5),
    ]
    cast = cast_voices(speakers, offered, {})
    assert {s: v.id for s, v in cast.items()} == {
        "deep": "low",
        "tenor": "mid",
        "high": "soprano",
        "low-woman": "alto",
    }


def test_the_main_speaker_chooses_first() -> None:
    offered = [
        Voice("only-male", "es", gender="male", pitch=110.0),
        Voice("f", "es", gender="female", pitch=220.0),
    ]
    cast = cast_voices(
        [SpeakerProfile("minor", 5.0, 112.0), SpeakerProfile("main", 500.0, 108.0)], offered, {}
    )
    assert cast["main"].id == "only-male"
    assert (
        cast["minor"].id == "only-male"
    )  # the register before distinctness: a man does not get a woman's voice


def test_no_voice_and_no_edit_is_an_error() -> None:
    with pytest.raises(ValueError):
        cast_voices([SpeakerProfile("A")], [], {})
    assert cast_voices([SpeakerProfile("A")], [], {"A": Voice("x", "es")}) == {"A": Voice("x", "es")}
