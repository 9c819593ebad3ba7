"""scripts/lock.py: the checks ./dev.sh runs before and after installing the lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "scripts" / "lock.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LOCK), *args], capture_output=True, text=True, timeout=120)


def _lock(tmp_path: Path, platform: str, body: str = "") -> Path:
    path = tmp_path / "dev.lock"
    path.write_text(f"# header\n# platform: {platform}\n{body}")
    return path


def test_the_committed_lock_is_for_this_platform() -> None:
    out = _run("check-platform")
    assert out.returncode == 0, out.stderr


def test_a_lock_for_another_platform_says_what_to_run(tmp_path: Path) -> None:
    out = _run("check-platform", str(_lock(tmp_path, "cp39 win32-arm64")))
    assert out.returncode == 1
    assert "was made for cp39 on win32-arm64" in out.stderr
    assert "./dev.sh lock" in out.stderr and "DUBKIT_UNLOCKED=1" in out.stderr


def test_verify_names_every_difference(tmp_path: Path) -> None:
    body = "pytest==0.0.1 \\\n    --hash=sha256:00\nnot-installed-anywhere==1.0 \\\n    --hash=sha256:00\n"
    lock = _lock(tmp_path, "cp311 linux-x86_64", body)
    out = _run("verify", "--venv", sys.prefix, str(lock))
    assert out.returncode == 1
    assert "pytest: " in out.stderr and "0.0.1 locked" in out.stderr
    assert "missing: not-installed-anywhere==1.0" in out.stderr
    assert "not in the lock: " in out.stderr  # everything else this venv holds


def test_every_lock_pins_with_hashes() -> None:
    for path in [
        ROOT / "requirements" / "dev.lock",
        *sorted((ROOT / "requirements" / "extras").glob("*.lock")),
    ]:
        text = path.read_text()
        pins = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
        assert pins, path
        for pin in pins:
            assert "==" in pin and pin.endswith("\\"), f"{path.name}: {pin}"
        assert "# platform: cp311 linux-x86_64" in text
