"""The command line imports only what a command uses, so it answers at once.

Each command runs in a fresh interpreter that writes the modules it loaded when it exits; the test
checks module names, not timings (benchmarks/bench_import.py measures the seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# What no quick command may load: the job runner and its SQLite layer (sqlite-utils pulls in pandas),
# the pipeline, the server, the model layer's pydantic records and every model runtime.
NEVER = [
    "dubkit.jobs",
    "dubkit.pipeline",
    "dubkit.stages",
    "dubkit.server",
    "dubkit.api",
    "dubkit.models.project",
    "dubkit.models.job",
    "sqlite_utils",
    "pandas",
    "fastapi",
    "dramatiq",
    "torch",
    "ctranslate2",
    "onnxruntime",
]
# Not even the media layer and numpy for commands that do not touch media.
NO_MEDIA = ["dubkit.media", "numpy", "ffmpeg"]
# --version and --help answer before the settings (pydantic-settings) are read.
NO_SETTINGS = ["dubkit.settings", "pydantic_settings"]


def _loaded_by(args: list[str], tmp_path: Path) -> set[str]:
    out = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['dubkit', *{args!r}]\n"
        "from dubkit.cli import main\n"
        "main()\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return set(json.loads(out.read_text()))


def _hits(loaded: set[str], banned: list[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == b or m.startswith(b + ".") for b in banned))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["backends"], ["backends", "vad", "--json"]])
def test_quick_commands_load_neither_runner_pipeline_nor_media(args: list[str], tmp_path: Path) -> None:
    loaded = _loaded_by(args, tmp_path)
    assert "dubkit.cli" in loaded
    assert _hits(loaded, NEVER + NO_MEDIA) == []
    if args[0].startswith("--"):
        assert _hits(loaded, NO_SETTINGS) == []


def test_probe_loads_the_media_layer_only(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    loaded = _loaded_by(["probe", str(broken)], tmp_path)
    assert "dubkit.media.probe" in loaded
    assert _hits(loaded, [*NEVER, "numpy"]) == []  # the mixer's and muxer's numpy load when they run


def test_dub_help_does_not_build_a_pipeline(tmp_path: Path) -> None:
    loaded = _loaded_by(["dub", "--help"], tmp_path)
    assert _hits(loaded, NEVER + NO_MEDIA) == []


def test_public_api_loads_on_first_use() -> None:
    code = (
        "import json, sys, dubkit\n"
        "before = 'dubkit.pipeline.build' in sys.modules\n"
        "config = dubkit.PipelineConfig\n"
        "print(json.dumps([before, 'dubkit.pipeline.build' in sys.modules, config.__name__]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, True, "PipelineConfig"]


def test_unknown_public_name_is_an_attribute_error() -> None:
    import dubkit

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = dubkit.nonsense  # type: ignore[attr-defined]
    assert "PipelineConfig" in dir(dubkit)
