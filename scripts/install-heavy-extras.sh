#!/usr/bin/env bash
# Install the backends' heavy extras that cannot be installed the plain way beside the CPU torch
# this project pins (torch 2.13.0): openai-whisper (transcriber), demucs (separator) and pyannote.audio
# (diarizer).
#
# Why not `pip install 'dubkit[demucs,pyannote]'`: their requirements would make pip fetch another
# torch (several GB of CUDA build), and pyannote.audio 4.0.7 requires torchaudio>=2.8 and torchcodec>=0.7,
# of which no PyPI build loads its native library beside torch 2.13.0. So the packages that depend on
# torch are installed with --no-deps, their small pure-Python dependencies by hand, torchcodec not at
# all, and torchaudio's native libraries are switched off (renamed to *.so.disabled) so that torchaudio
# imports as pure Python. pyannote.audio then imports and runs on waveforms passed in memory
# ({"waveform": tensor, "sample_rate": sr}), which is how dubkit's pyannote backend calls it; it cannot
# decode files itself (dubkit never asks it to).
#
# On a machine where a matched torch/torchaudio/torchcodec set is available, prefer the plain install:
#   pip install 'dubkit[pyannote,demucs]'
#
# Usage: VENV=/path/to/venv scripts/install-heavy-extras.sh [--locked]   (default: .venv beside this repo)
#   --locked: the packages are already installed from requirements/dev.lock (./dev.sh does that); only
#             switch off torchaudio's native libraries and check that the three import.
# Idempotent: re-running installs nothing new and leaves the disabled libraries disabled.
set -euo pipefail
LOCKED=
[ "${1:-}" = --locked ] && LOCKED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PIP=("$VENV/bin/pip" install --quiet)
PY="$VENV/bin/python"

torch_version() {
  "$PY" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || echo none
}

before="$(torch_version)"
case "$before" in
  2.13.0*) ;;
  *) echo "install-heavy-extras: expected torch 2.13.0 in $VENV, found: $before" >&2; exit 1 ;;
esac

if [ -z "$LOCKED" ]; then
# --- openai-whisper: its requirements name triton (about 1 GB, useless on a CPU), so install it without
# dependencies and add the small ones by hand ----------------------------------------------------------
"${PIP[@]}" --no-deps "openai-whisper==20250625"
"${PIP[@]}" "more-itertools" "tiktoken" "numba" "tqdm"

# --- demucs: model code and apply_model; dubkit does its own WAV I/O (no torchaudio needed) ----------
"${PIP[@]}" --no-deps "demucs==4.1.0" "julius==0.2.8"
"${PIP[@]}" "einops>=0.8" "lameenc>=1.2" "sphn>=0.1.12" "pyyaml" "tqdm" "safetensors" "huggingface-hub"

# --- pyannote.audio 4.0.7 ---------------------------------------------------------------------------
# Its dependencies that do not depend on torch, with their own dependencies:
"${PIP[@]}" \
  "einops>=0.8.1" "huggingface-hub>=0.28.1" "matplotlib>=3.10.0" \
  "opentelemetry-api>=1.34.0" "opentelemetry-exporter-otlp>=1.34.0" "opentelemetry-sdk>=1.34.0" \
  "pyannote-core>=6.0.1" "pyannote-database>=6.1.1" "pyannote-metrics>=4.0.0" "pyannote-pipeline>=4.0.0" \
  "pyannoteai-sdk>=0.3.0" "rich>=13.9.4" "safetensors>=0.5.2" \
  "lightning-utilities>=0.15.3" "primePy>=1.3" "fsspec[http]>=2022.5.0" "packaging>=23.0" \
  "scikit-learn" "typing-extensions" "pyyaml" "tqdm"
# The ones that depend on torch (or torchaudio), without their dependencies; torchcodec is left out.
"${PIP[@]}" --no-deps \
  "pyannote.audio==4.0.7" \
  "asteroid-filterbanks==0.4.0" \
  "lightning==2.6.6" \
  "torchmetrics==1.9.0" \
  "pytorch-metric-learning==2.9.0" \
  "torch-audiomentations==0.12.0" \
  "torch-pitch-shift==1.2.5" \
  "torchaudio==2.11.0"
fi

# Switch off torchaudio's native libraries (they do not load beside torch 2.13.0); torchaudio then
# imports as pure Python (its transforms such as MFCC work; its file I/O does not).
ta_lib="$("$PY" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torchaudio").origin), "lib"))')"
if [ -d "$ta_lib" ]; then
  for so in "$ta_lib"/*.so; do
    [ -e "$so" ] || continue
    mv -f "$so" "$so.disabled"
  done
fi

after="$(torch_version)"
if [ "$after" != "$before" ]; then
  echo "install-heavy-extras: torch changed from $before to $after; this must not happen" >&2
  exit 1
fi

# Smoke test: both import (pyannote.audio warns that torchcodec is missing; that is expected).
"$PY" -W ignore -c 'import whisper, demucs.apply, demucs.pretrained, demucs.htdemucs; from pyannote.audio import Pipeline, Model'
echo "install-heavy-extras: openai-whisper, demucs and pyannote.audio ready (torch $after)"
