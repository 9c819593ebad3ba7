import pytest

from dubkit.errors import UnknownLanguageError
from dubkit.models.languages import get_language, language_codes


def test_lookup_by_either_code() -> None:
    assert get_language("ES").nllb == "spa_Latn"
    assert get_language("spa").code == "es"


def test_unknown_code_lists_the_known_ones() -> None:
    with pytest.raises(UnknownLanguageError) as info:
        get_language("zz")
    assert info.value.supported == list(language_codes())
    assert len(language_codes()) == len(set(language_codes())) > 50
