"""The error tree: one root, structured fields, hints."""

from __future__ import annotations

import inspect

import dubkit.errors as errors
from dubkit.errors import (
    BackendUnavailableError,
    DubkitError,
    MediaLimitError,
    UnknownBackendError,
    UnknownLanguageError,
)


def test_every_error_derives_from_dubkit_error_and_is_drawn_in_the_docstring() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)]
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, DubkitError)
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} missing from the tree drawing"
        assert cls.__name__ in errors.__all__


def test_structured_fields_survive_to_dict() -> None:
    err = MediaLimitError("duration", 12000.0, 10800.0, path="in.mp4")
    data = err.to_dict()
    assert data["code"] == "media_limit"
    assert (data["limit"], data["value"], data["maximum"], data["path"]) == (
        "duration",
        12000.0,
        10800.0,
        "in.mp4",
    )


def test_messages_carry_what_to_do() -> None:
    assert "apertium" in str(UnknownBackendError("translator", "x", ["apertium", "nllb"]))
    assert "pip install 'dubkit[nllb]'" in str(
        BackendUnavailableError(
            "translator", "nllb", "missing transformers", install="pip install 'dubkit[nllb]'"
        )
    )
    err = UnknownLanguageError("klingon", ["en", "es"])
    assert err.supported == ["en", "es"] and "en, es" in str(err)
