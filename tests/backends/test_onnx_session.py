"""The device choice for the ONNX voices, and packaged weights joined from parts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dubkit.backends.onnx_session import cpu_workers, execution_providers
from dubkit.backends.packaged_parts import assemble_parts, distributions_version
from dubkit.errors import BackendUnavailableError, ConfigError

ort = pytest.importorskip("onnxruntime")


def test_devices_map_to_the_providers_this_onnxruntime_has() -> None:
    assert execution_providers(ort, "cpu") == ["CPUExecutionProvider"]
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    auto = execution_providers(ort, "auto")
    assert auto[-1] == "CPUExecutionProvider" and (auto[0] == "CUDAExecutionProvider") == has_cuda
    with pytest.raises(ConfigError):
        execution_providers(ort, "tpu")
    if not has_cuda:
        with pytest.raises(ConfigError) as caught:
            execution_providers(ort, "cuda")
        assert "onnxruntime-gpu" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("cores", "threads", "workers"),
    [(2, 1, 2), (2, 2, 1), (2, 64, 1), (16, 1, 4), (16, 4, 4), (16, 8, 2), (None, 1, 1), (3, 0, 3)],
)
def test_workers_fill_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, threads: int, workers: int
) -> None:
    monkeypatch.setattr("dubkit.backends.onnx_session.os.cpu_count", lambda: cores)
    assert cpu_workers(threads) == workers  # cores // threads calls at once, 1 to 4


def _fail(reason: str) -> BackendUnavailableError:
    return BackendUnavailableError("synthesizer", "test", reason, install="pip install test")


def test_parts_are_joined_once_and_checked(tmp_path: Path) -> None:
    parts = []
    for i, blob in enumerate([b"abc" * 1000, b"def" * 2000, b"g"]):
        parts.append(tmp_path / f"part{i}")
        parts[-1].write_bytes(blob)
    whole = b"abc" * 1000 + b"def" * 2000 + b"g"
    digest = hashlib.sha256(whole).hexdigest()
    target = tmp_path / "out" / "model.bin"
    assert assemble_parts(parts, target, size=len(whole), sha256=digest, fail=_fail) == target
    assert target.read_bytes() == whole
    with pytest.raises(BackendUnavailableError, match="sha256"):
        assemble_parts(parts[:2], tmp_path / "short.bin", size=len(whole), sha256=digest, fail=_fail)
    with pytest.raises(BackendUnavailableError, match="missing"):
        assemble_parts([*parts, tmp_path / "gone"], tmp_path / "x.bin", size=1, sha256=digest, fail=_fail)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.bin"]
    assert not (tmp_path / "short.bin").exists() and not (tmp_path / "x.bin").exists()


def test_the_weights_version_names_every_package_they_ship_in() -> None:
    from importlib import metadata

    expected = f"{metadata.version('numpy')}+{metadata.version('pytest')}"
    assert distributions_version(["numpy", "pytest"], _fail) == expected
    with pytest.raises(BackendUnavailableError) as caught:
        distributions_version(["numpy", "no-such-weights-package"], _fail)
    assert "no-such-weights-package is not installed" in str(caught.value)
    assert "pip install test" in (caught.value.hint or "")
