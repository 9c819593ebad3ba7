#!/usr/bin/env bash
# dubkit's one entry point for a fresh Debian/Ubuntu machine with python3 (run as root, or with sudo).
#
#   ./dev.sh demo     set everything up, generate a sample video, dub it into Spanish, print the outputs
#   ./dev.sh test     set everything up, then run the whole test suite (lint, types, layers, tests)
#   ./dev.sh setup    only set up (Debian packages when missing, .venv with every extra)
#   ./dev.sh lint     only ruff, mypy --strict, import-linter, typing examples, docs build
#   ./dev.sh lock     refresh requirements/*.lock on purpose (newest allowed versions, with hashes)
#   ./dev.sh image    build the Docker image with podman and check it inside (scripts/build_image.sh)
#
# Python packages come from requirements/dev.lock (exact versions and hashes). DUBKIT_UNLOCKED=1 installs
# the newest allowed versions instead (what the lock refresh and `nox -s tests-latest` use).
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
APERTIUM_PAIRS=(
  apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-eu-en apertium-hbs-eng
  apertium-isl-eng apertium-mkd-eng apertium-fr-es apertium-es-pt apertium-spa-ita apertium-es-ro
  apertium-spa-cat apertium-es-gl
)

apt_packages() {
  local missing=()
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v apertium >/dev/null || missing+=(apertium)
  # Apertium language pairs: every English pair Debian 12 has, and the Spanish ones (see
  # src/dubkit/backends/apertium_packages.py); the translator finds whatever is installed.
  local pair
  for pair in "${APERTIUM_PAIRS[@]}"; do
    dpkg-query -W -f='${Status}' "$pair" 2>/dev/null | grep -q 'ok installed' || missing+=("$pair")
  done
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

# --- Python packages into .venv, from the lock -------------------------------------------------------
# requirements/dev.lock pins every distribution (with hashes) that the suite passes with; torch is pinned
# here instead (exactly this version, a CPU build where one is available: any other request pulls a CUDA
# build of several GB). Everything goes in with --no-deps, so nothing is resolved on the day.
TORCH='torch==2.13.0'
EXTRAS='offline,nllb,mms,quality,voices,distributed,server,s3'

install_locked() {
  "$PY" scripts/lock.py check-platform requirements/dev.lock
  "$PY" -m pip install -q --no-deps --require-hashes -r requirements/bootstrap.lock
  "$PY" -m pip install -q --no-deps --require-hashes -r requirements/dev.lock
  "$PY" -m pip install -q --no-deps "$TORCH"
  "$PY" -m pip install -q --no-deps -e .
  "$PY" -m pip install -q --no-deps -e tests/plugins/sample_plugin -e tests/plugins/standin_plugin
  VENV="$VENV" bash scripts/install-heavy-extras.sh --locked
}

# The newest versions that the requirements in pyproject.toml admit: what `./dev.sh lock` freezes, and
# what `nox -s tests-latest` tests against. $1: the virtualenv.
install_unlocked() {
  local py="$1/bin/python"
  "$py" -m pip install -q --upgrade 'pip>=25.1'
  "$py" -m pip install -q "$TORCH"
  "$py" -m pip install -q -e ".[$EXTRAS]" --group dev
  VENV="$1" bash scripts/install-heavy-extras.sh
}

python_packages() {
  local stamp="$VENV/.dubkit-setup" want
  want=$(cat pyproject.toml requirements/*.lock scripts/*.sh scripts/lock.py tests/plugins/*/pyproject.toml dev.sh | sha256sum | cut -c1-32)
  if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  [ -x "$PY" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  if [ -n "${DUBKIT_UNLOCKED:-}" ]; then
    log "installing the newest allowed Python packages into $VENV (DUBKIT_UNLOCKED: not the lock)"
    install_unlocked "$VENV"
    "$PY" -m pip install -q --no-deps -e tests/plugins/sample_plugin -e tests/plugins/standin_plugin
  else
    log "installing the locked Python packages into $VENV"
    install_locked
    if ! "$PY" scripts/lock.py verify --venv "$VENV"; then
      # A venv made from an older lock keeps distributions the new one dropped: start it afresh, once.
      log "rebuilding $VENV from scratch"
      rm -rf "$VENV"
      python3 -m venv "$VENV"
      install_locked
      "$PY" scripts/lock.py verify --venv "$VENV"
    fi
  fi
  echo "$want" >"$stamp"
}

# Refresh the lock on purpose: the newest allowed versions in a fresh venv, frozen with their hashes.
lock() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "resolving the newest allowed versions in a fresh venv ($tmp)"
  python3 -m venv "$tmp/venv"
  install_unlocked "$tmp/venv"
  "$tmp/venv/bin/python" scripts/lock.py write --venv "$tmp/venv"
  "$tmp/venv/bin/python" scripts/lock.py extras --venv "$tmp/venv"
  log "lock refreshed: run ./dev.sh test (it installs exactly the new lock), then commit requirements/"
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
  lock) apt_packages; lock ;;
  image) setup; bash scripts/build_image.sh ;;
  *) echo "usage: ./dev.sh {demo|test|setup|lint|lock|image} [pytest args]" >&2; exit 2 ;;
esac
