#!/usr/bin/env bash
# dubkit's one entry point for a fresh Debian/Ubuntu machine with python3 (run as root, or with sudo).
#
#   ./dev.sh demo     set everything up, generate a sample video, dub it into Spanish, print the outputs
#   ./dev.sh test     set everything up, then run the whole test suite (lint, types, layers, tests)
#   ./dev.sh setup    only set up (Debian packages when missing, .venv with every extra)
#   ./dev.sh lint     only ruff, mypy --strict, import-linter, typing examples, docs build
#
# Set-up is idempotent and quick when nothing changed (a stamp of the dependency files is kept in .venv).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\033[1;34m[dev]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# --- Debian packages, installed only when missing ----------------------------------------------------
apt_packages() {
  local missing=()
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v apertium >/dev/null || missing+=(apertium)
  [ -e /usr/share/apertium/modes/eng-spa.mode ] || missing+=(apertium-eng-spa)
  command -v rubberband >/dev/null || missing+=(rubberband-cli)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v chromium >/dev/null || missing+=(chromium)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  # Real human speech with transcripts for benchmarks/bench_voices.py (a LibriVox reader, Asterisk's prompts).
  [ -e /usr/share/pocketsphinx/test/data/librivox/transcription ] || missing+=(pocketsphinx-testdata)
  [ -d /usr/share/asterisk/sounds/en_US_f_Allison ] || missing+=(asterisk-core-sounds-en-wav)
  [ -e /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz ] || missing+=(asterisk-core-sounds-en)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# --- Python packages into .venv ------------------------------------------------------------------------
python_packages() {
  local stamp="$VENV/.dubkit-setup" want
  want=$(cat pyproject.toml scripts/*.sh tests/plugins/sample_plugin/pyproject.toml tests/plugins/standin_plugin/pyproject.toml dev.sh | sha256sum | cut -c1-32)
  if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  [ -x "$PY" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  log "installing Python packages into $VENV"
  "$PY" -m pip install -q --upgrade 'pip>=25.1'
  # torch first, pinned: a CPU build of exactly this version is what the project is tested with; any
  # other request would pull a CUDA build of several GB.
  "$PY" -m pip install -q 'torch==2.13.0'
  "$PY" -m pip install -q -e '.[offline,nllb,mms,quality,distributed,server,s3]' --group dev
  VENV="$VENV" bash scripts/install-heavy-extras.sh
  "$PY" -m pip install -q --no-deps -e tests/plugins/sample_plugin
  "$PY" -m pip install -q --no-deps -e tests/plugins/standin_plugin
  "$PY" - <<'EOF'
import importlib.metadata as md
v = md.version("torch")
assert v.split("+")[0] == "2.13.0", f"torch {v} was installed; expected 2.13.0"
EOF
  echo "$want" >"$stamp"
}

setup() {
  apt_packages
  python_packages
}

lint() {
  log "ruff"
  "$VENV/bin/ruff" check src tests benchmarks
  "$VENV/bin/ruff" format --check src tests benchmarks
  log "mypy --strict"
  "$VENV/bin/mypy" src
  log "import-linter"
  "$VENV/bin/lint-imports"
  log "typing examples (tests/typing)"
  "$VENV/bin/mypy" --strict tests/typing
  log "docs (mkdocs build --strict)"
  local site
  site=$(mktemp -d)
  NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet -d "$site"
  rm -rf "$site"
}

run_tests() {
  lint
  log "pytest"
  # CI must not read the developer's caches; the suite builds what it needs in temp folders.
  "$VENV/bin/python" -m pytest -p no:cacheprovider --fail-on-skip "$@"
}

demo() {
  local out="$ROOT/demo-output"
  mkdir -p "$out"
  log "generating a sample two-speaker English video"
  "$VENV/bin/python" scripts/make_sample_video.py "$out/sample.mp4"
  log "dubbing it into Spanish (offline models that ship in packages)"
  "$VENV/bin/dubkit" dub "$out/sample.mp4" --to es -o "$out"
  log "outputs:"
  ls -1 "$out"/sample.es.* | sed 's/^/  /'
}

cmd=${1:-test}
shift || true
case "$cmd" in
  setup) setup ;;
  lint) setup; lint ;;
  test) setup; run_tests "$@" ;;
  demo) setup; demo ;;
  *) echo "usage: ./dev.sh {demo|test|setup|lint} [pytest args]" >&2; exit 2 ;;
esac
