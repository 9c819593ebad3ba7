"""Importing dubkit stays light: no model runtime, web framework or queue is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_the_default_vad_and_diarizer_run_without_torch(tmp_path: Path) -> None:
    """Silero (ONNX) and resemblyzer (numpy) detect and diarize real speech in a torch-free process."""
    from dubkit.backends.resemblyzer_encoder import load_speaker_encoder

    raw, clip = tmp_path / "raw.wav", tmp_path / "clip.wav"
    text = "Good morning. The weather is lovely today, is it not?"
    subprocess.run(["espeak-ng", "-w", str(raw), "--", text], check=True)
    pad = "adelay=600,apad=pad_dur=0.8"  # silence before and after the speech
    convert = ["-af", pad, "-ar", "16000", "-ac", "1", "-sample_fmt", "s16", str(clip)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), *convert], check=True)
    weights = tmp_path / "weights"
    load_speaker_encoder(weights)  # the one-time conversion, which needs torch, happens here
    code = f"""
import json, sys, wave
from pathlib import Path
from dubkit.backends.resemblyzer_diarizer import ResemblyzerDiarizer
from dubkit.backends.silero import SileroVAD
from dubkit.models.media import AudioFile
path = Path({str(clip)!r})
with wave.open(str(path), "rb") as wav:
    duration = wav.getnframes() / wav.getframerate()
audio = AudioFile(path=path, sample_rate=16000, channels=1, duration=duration)
with SileroVAD() as vad:
    regions = vad.detect(audio)
options = ResemblyzerDiarizer.Options(weights_dir=Path({str(weights)!r}))
with ResemblyzerDiarizer(options) as diarizer:
    turns = diarizer.diarize(audio, regions)
print(json.dumps({{"regions": len(regions), "speakers": sorted({{t.speaker for t in turns}}),
                  "modules": sorted(sys.modules)}}))
"""
    out = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert out["regions"] >= 1
    assert out["speakers"] == ["SPEAKER_00"]
    loaded = set(out["modules"])
    assert {"onnxruntime", "dubkit.backends.numpy_lstm"} <= loaded  # the backends really ran
    assert not [m for m in ("torch", "silero_vad", "resemblyzer", "sklearn", "librosa") if m in loaded]
