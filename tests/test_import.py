"""Importing dubkit stays light: no model runtime, web framework or queue is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "transformers",
    "ctranslate2",
    "faster_whisper",
    "whisper",
    "pyannote",
    "fastapi",
    "dramatiq",
    "resemblyzer",
    "silero_vad",
    "sklearn",
    "demucs",
    "starlette",
    "uvicorn",
]


@pytest.mark.parametrize(
    "module", ["dubkit", "dubkit.pipeline", "dubkit.pipeline.build", "dubkit.cli", "dubkit.testing"]
)
def test_import_pulls_in_nothing_heavy(module: str) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert not [m for m in HEAVY if m in loaded]


def test_public_api_is_curated() -> None:
    import dubkit

    assert len(dubkit.__all__) == len(set(dubkit.__all__))
    for name in dubkit.__all__:
        assert hasattr(dubkit, name), name
    assert callable(dubkit.dub)


def test_the_cli_imports_the_server_only_to_serve() -> None:
    code = "import sys, json, dubkit.cli; print(json.dumps(sorted(sys.modules)))"
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert "dubkit.cli.serve_command" in loaded
    assert not [
        m for m in ("dubkit.server", "fastapi", "starlette", "uvicorn", "python_multipart") if m in loaded
    ]
