"""dubkit's lock files: write them from a working environment, check a machine against them.

The lock is the environment CI and users get: the exact version of every distribution the test suite
passes with, and the SHA-256 of every file of that version that pip may pick on the locked platform.
It is refreshed on purpose (``./dev.sh lock``), never by accident.

    python scripts/lock.py write --venv DIR            requirements/dev.lock from DIR's distributions
    python scripts/lock.py extras --venv DIR           requirements/extras/<extra>.lock, resolved in DIR
    python scripts/lock.py check-platform [LOCK]       exit 1, saying what to run, on another platform
    python scripts/lock.py verify --venv DIR [LOCK]    exit 1 unless DIR holds exactly the lock's versions

``check-platform`` and ``verify`` use the standard library only (they run before anything is installed);
``write`` and ``extras`` need ``packaging``, which every environment made by pip has.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = ROOT / "requirements"
DEV_LOCK = LOCK_DIR / "dev.lock"
BOOTSTRAP_LOCK = LOCK_DIR / "bootstrap.lock"
EXTRAS_DIR = LOCK_DIR / "extras"
INDEX = "https://pypi.org/simple"

# torch is installed first and by itself (exactly this version; a CPU build where one is available):
# a request through the lock would fetch PyPI's CUDA build of several GB.
TORCH = "torch==2.13.0"
NOT_LOCKED = {"torch", "dubkit", "dubkit-sample-plugin", "dubkit-standin-plugin"}
BOOTSTRAP = {"pip"}
# The extras a user installs one at a time, each with its own lock. whisper, demucs and pyannote are
# installed by scripts/install-heavy-extras.sh (their own requirements would replace the pinned torch);
# their pins are in dev.lock. gpu needs CUDA builds that this platform's lock does not hold.
LOCKED_EXTRAS = (
    "offline",
    "voices",
    "separate",
    "faster-whisper",
    "vad",
    "diarize",
    "quality",
    "nllb",
    "mms",
    "server",
    "s3",
    "distributed",
)
# What the Docker image installs (Dockerfile): the offline dub, the server and the workers.
DEPLOY_EXTRAS = "offline,server,s3,distributed"

PLATFORM_LINE = re.compile(r"^# platform: (?P<python>\S+) (?P<system>\S+)$", re.MULTILINE)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)", re.MULTILINE)


def shown(path: Path) -> str:
    """A path as the user should read it: relative to the repository when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def this_platform() -> tuple[str, str]:
    """The interpreter tag and system the running Python installs for (``cp311``, ``linux-x86_64``)."""
    prefix = "cp" if sys.implementation.name == "cpython" else sys.implementation.name
    python = f"{prefix}{sys.version_info.major}{sys.version_info.minor}"
    machine = platform.machine().lower().replace("amd64", "x86_64")
    return python, f"{sys.platform}-{machine}"


def lock_platform(lock: Path) -> tuple[str, str]:
    """The platform a lock file was made for, from its header."""
    match = PLATFORM_LINE.search(lock.read_text())
    if match is None:
        raise SystemExit(f"{lock}: no '# platform:' line; remake it with ./dev.sh lock")
    return match["python"], match["system"]


def pins(lock: Path) -> dict[str, str]:
    """Distribution name -> version pinned in a lock file."""
    return {canonical(m["name"]): m["version"] for m in PIN.finditer(lock.read_text())}


# --- check-platform, verify: standard library only ---------------------------------------------------


def check_platform(lock: Path) -> int:
    """0 when this interpreter matches the lock's platform; else say what to run and return 1."""
    if not lock.exists():
        print(f"{lock} is missing; make it with ./dev.sh lock", file=sys.stderr)
        return 1
    want, have = lock_platform(lock), this_platform()
    if want == have:
        return 0
    print(
        f"{shown(lock)} was made for {want[0]} on {want[1]}; this is {have[0]} on {have[1]} "
        f"({sys.executable}).\n"
        f"  Use a Python that matches (python{want[0][2]}.{want[0][3:]} as python3), or make a "
        "lock for this machine on purpose with ./dev.sh lock (then run the suite and commit it), or "
        "install without the lock: DUBKIT_UNLOCKED=1 ./dev.sh setup",
        file=sys.stderr,
    )
    return 1


def installed(venv: Path) -> dict[str, str]:
    """Distribution name -> version of what ``venv`` holds (asked of its own interpreter)."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return {canonical(name): version for name, version in json.loads(out).items()}


def verify(venv: Path, lock: Path) -> int:
    """0 when ``venv`` holds exactly the lock's versions (plus torch and the editable projects)."""
    want = pins(lock) | pins(BOOTSTRAP_LOCK)
    have = installed(venv)
    problems = []
    for name, version in sorted(want.items()):
        if name not in have:
            problems.append(f"missing: {name}=={version}")
        elif have[name] != version:
            problems.append(f"{name}: {have[name]} installed, {version} locked")
    problems += [
        f"not in the lock: {name}=={version}"
        for name, version in sorted(have.items())
        if name not in want and name not in NOT_LOCKED
    ]
    torch = have.get("torch", "none").split("+")[0]
    if torch != TORCH.split("==")[1]:
        problems.append(f"torch: {torch} installed, {TORCH} expected")
    if problems:
        print(f"{venv} does not match {shown(lock)}:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print("  Rebuild it: rm -rf .venv && ./dev.sh setup", file=sys.stderr)
        return 1
    print(f"{venv.name}: {len(want)} locked distributions installed at their locked versions")
    return 0


# --- write, extras: need packaging and the index --------------------------------------------------------


def _wheel_fits(filename: str, python: str) -> bool:
    """Whether a wheel may be picked by CPython ``python`` (cp311) on glibc Linux x86_64."""
    from packaging.utils import parse_wheel_filename

    _, _, _, tags = parse_wheel_filename(filename)
    for tag in tags:
        interpreter_ok = tag.interpreter in {"py3", f"py{python[2:]}", python} or (
            tag.abi == "abi3" and tag.interpreter.startswith("cp3")
        )
        abi_ok = tag.abi in {"none", "abi3", python}
        plat_ok = tag.platform == "any" or (
            "x86_64" in tag.platform and tag.platform.startswith(("manylinux", "linux"))
        )
        if interpreter_ok and abi_ok and plat_ok:
            return True
    return False


def _file_version(filename: str) -> tuple[str, str] | None:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return canonical(name), str(version)


def index_hashes(name: str, version: str, python: str) -> list[str]:
    """SHA-256 of every file of ``name==version`` on PyPI that pip may pick here (sdist included)."""
    from packaging.version import Version

    request = urllib.request.Request(  # noqa: S310
        f"{INDEX}/{canonical(name)}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (a fixed https URL)
        files = json.load(response)["files"]
    want = Version(version)
    hashes = set()
    for entry in files:
        filename = entry["filename"]
        parsed = _file_version(filename)
        if parsed is None or parsed[0] != canonical(name) or Version(parsed[1]) != want:
            continue
        if entry.get("yanked"):
            continue
        if filename.endswith(".whl") and not _wheel_fits(filename, python):
            continue
        if not filename.endswith((".whl", ".tar.gz", ".zip")):
            continue
        hashes.add(entry["hashes"]["sha256"])
    if not hashes:
        raise SystemExit(f"{name}=={version}: no file on {INDEX} fits {python} on linux-x86_64")
    return sorted(hashes)


def _header(title: str, python: str, system: str) -> str:
    return (
        f"# {title}\n"
        "# Made by ./dev.sh lock (scripts/lock.py) from a fresh environment on which the suite then passed;\n"
        "# refresh it on purpose with ./dev.sh lock, never by hand. Install with:\n"
        "#   pip install --no-deps --require-hashes -r <this file>\n"
        f"#   pip install --no-deps {TORCH}   (where torch is needed: a CPU build where one is available)\n"
        f"# made: {datetime.date.today().isoformat()}\n"
        f"# platform: {python} {system}\n"
    )


def _render(entries: dict[str, tuple[str, list[str]]]) -> str:
    lines = []
    for name in sorted(entries):
        version, hashes = entries[name]
        lines.append(f"{name}=={version} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"


def write(venv: Path) -> int:
    """Write requirements/dev.lock and bootstrap.lock from ``venv``'s distributions."""
    python, system = this_platform()
    have = installed(venv)
    wanted = {name: v for name, v in have.items() if name not in NOT_LOCKED}
    with ThreadPoolExecutor(8) as pool:
        found = pool.map(lambda n: index_hashes(n, wanted[n], python), wanted)
        hashes = dict(zip(wanted, found, strict=True))
    entries = {name: (wanted[name], hashes[name]) for name in wanted}
    LOCK_DIR.mkdir(exist_ok=True)
    dev = {n: e for n, e in entries.items() if n not in BOOTSTRAP}
    boot = {n: e for n, e in entries.items() if n in BOOTSTRAP}
    DEV_LOCK.write_text(
        _header("dubkit's test environment: every extra, the dev groups, the heavy extras.", python, system)
        + _render(dev)
    )
    BOOTSTRAP_LOCK.write_text(
        _header("pip itself, installed before the rest.", python, system) + _render(boot)
    )
    print(f"wrote {shown(DEV_LOCK)} ({len(dev)} distributions) and {BOOTSTRAP_LOCK.name}")
    return 0


def _resolve(venv: Path, requirement: str, constraints: Path) -> dict[str, str]:
    """What pip would install for ``requirement`` under the dev lock's versions (a dry run)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--report",
                str(report),
                "-c",
                str(constraints),
                requirement,
            ],
            check=True,
        )
        items = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def extras(venv: Path) -> int:
    """Write requirements/extras/<extra>.lock: each extra resolved under the dev lock's versions."""
    python, system = this_platform()
    locked = pins(DEV_LOCK) | pins(BOOTSTRAP_LOCK)
    text = DEV_LOCK.read_text() + BOOTSTRAP_LOCK.read_text()
    blocks = {
        canonical(m["name"]): m.group(0)
        for m in re.finditer(
            r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==\S+(?: \\\n    --hash=\S+)+", text, re.M
        )
    }
    EXTRAS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in locked.items()) + TORCH + "\n")
        for group in (*LOCKED_EXTRAS, DEPLOY_EXTRAS):
            resolved = _resolve(venv, f"{ROOT}[{group}]", constraints)
            outside = {n: v for n, v in resolved.items() if n not in NOT_LOCKED and n not in locked}
            if outside:
                raise SystemExit(f"dubkit[{group}] needs distributions the dev lock lacks: {outside}")
            names = sorted(n for n in resolved if n not in NOT_LOCKED)
            stem = "deploy" if group == DEPLOY_EXTRAS else group
            needs_torch = "torch" in resolved
            title = f"pip install 'dubkit[{group}]' at the versions of the dev lock" + (
                " (needs torch: install it first)." if needs_torch else "."
            )
            (EXTRAS_DIR / f"{stem}.lock").write_text(
                _header(title, python, system) + "\n".join(blocks[n] for n in names) + "\n"
            )
            print(f"wrote requirements/extras/{stem}.lock ({len(names)} distributions)")
    return 0


def main() -> int:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("write", "extras", "verify"):
        p = sub.add_parser(name)
        p.add_argument("--venv", type=Path, required=True)
        if name == "verify":
            p.add_argument("lock", type=Path, nargs="?", default=DEV_LOCK)
    p = sub.add_parser("check-platform")
    p.add_argument("lock", type=Path, nargs="?", default=DEV_LOCK)
    args = parser.parse_args()
    if args.command == "check-platform":
        return check_platform(args.lock.resolve())
    venv = Path(os.path.abspath(args.venv))
    if args.command == "write":
        return write(venv)
    if args.command == "extras":
        return extras(venv)
    return verify(venv, args.lock.resolve())


if __name__ == "__main__":
    sys.exit(main())
