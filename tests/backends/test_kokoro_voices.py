"""Kokoro voice ids, blends and the pool of voices offered to speakers (no model needed)."""

from __future__ import annotations

import pytest

from dubkit.backends.kokoro_voices import BlendPart, describe, parse_voice_id, voice_gender, voice_pool

SHIPPED = ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]


def test_ids_parse_into_normalised_weights() -> None:
    assert parse_voice_id("jf_alpha") == (BlendPart("jf_alpha", 1.0),)
    assert parse_voice_id(" jm_kumo:3 + jf_alpha:1 ") == (
        BlendPart("jm_kumo", 0.75),
        BlendPart("jf_alpha", 0.25),
    )


@pytest.mark.parametrize("bad", ["", "jf_alpha:", "jf_alpha:-1", "jf_alpha:nan", ":0.5", "a+a", "a:inf"])
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="voice"):
        parse_voice_id(bad)


def test_gender_comes_from_the_name_and_pitch_from_measures_or_estimates() -> None:
    assert [voice_gender(n) for n in ("af_heart", "bm_george", "jm_kumo", "kumo", "x_y")] == [
        "female",
        "male",
        "male",
        None,
        None,
    ]
    assert describe("jf_alpha", "es").pitch == 268.0
    blend = describe("jm_kumo:0.75+jf_alpha:0.25", "es")
    assert blend.register == "male" and 96.0 < (blend.pitch or 0) < 165.0
    assert describe("zz_unknown", "es").register is None


def test_the_pool_offers_named_voices_first_then_distinct_blends_of_both_registers() -> None:
    pool = voice_pool(SHIPPED, "es")
    ids = [v.id for v in pool]
    assert ids[:5] == SHIPPED
    assert len(ids) == len(set(ids)) == 19
    assert sum(v.register == "female" for v in pool) == 14
    assert sum(v.register == "male" for v in pool) == 5
    assert [v.id for v in voice_pool(SHIPPED, "es", blends=False)] == SHIPPED


def test_voices_made_for_the_language_come_first() -> None:
    pool = voice_pool(["jf_alpha", "em_alex", "ef_dora", "am_adam"], "es", blends=False)
    assert [v.id for v in pool] == ["em_alex", "ef_dora", "jf_alpha", "am_adam"]


def test_a_large_voice_file_gives_a_bounded_pool() -> None:
    names = [f"{accent}{gender}_{i}" for accent in "abefhijpz" for gender in "fm" for i in range(3)]
    pool = voice_pool(names, "en")
    assert len(pool) <= 48 and len({v.id for v in pool}) == len(pool)
    assert pool[0].id.startswith(("af_", "am_", "bf_", "bm_"))
