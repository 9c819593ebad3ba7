#!/usr/bin/env bash
# Build dubkit's Docker image with podman and check it from inside: ./dev.sh image
#
#   1. Base image: the Dockerfile's default (python:3.11-slim-bookworm) when it is present or can be
#      pulled; else a Debian bookworm root made with debootstrap and imported (localhost/dubkit-base),
#      for machines that reach Debian's archive but no container registry.
#   2. podman build --isolation chroot (no daemon; podman's default ulimits switched off through a
#      containers.conf of our own, which a chroot build cannot set), under a temporary tag; the final
#      tag (localhost/dubkit:local, or $DUBKIT_IMAGE_TAG) is set only when every check passed, so a
#      failed build never leaves an image tagged.
#   3. Checks inside the image's root filesystem (a container made from it, podman mount + chroot:
#      writable like a running container, sharing this machine's loopback): dubkit --version; dubkit backends (the offline backends available); the server
#      starting and answering /api/v1/health; one dub of the sample video completing.
#   4. Results: build seconds, image size and each check in benchmarks/results/image.json.
#
# Needs root (podman's storage and chroot), podman and, without a registry, debootstrap:
#   apt-get install podman debootstrap
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TAG="${DUBKIT_IMAGE_TAG:-localhost/dubkit:local}"
BASE="${DUBKIT_IMAGE_BASE:-docker.io/library/python:3.11-slim-bookworm}"
LOCAL_BASE=localhost/dubkit-base:bookworm
RESULTS="$ROOT/benchmarks/results/image.json"
PY="${PY:-$ROOT/.venv/bin/python}"

log() { printf '\033[1;34m[image]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[image]\033[0m %s\n' "$*" >&2; exit 1; }

command -v podman >/dev/null || die "podman is not installed: apt-get install podman (and debootstrap, to build a base image where no container registry can be reached)"
[ "$(id -u)" = 0 ] || die "run as root (podman's image storage and chroot need it)"

WORK=$(mktemp -d)
BUILD_TAG="localhost/dubkit:building-$$"
MOUNTED=
CONTAINER=
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  if [ -n "$MOUNTED" ]; then
    for m in dev/pts dev proc; do umount "$MOUNTED/$m" 2>/dev/null || true; done
  fi
  if [ -n "$CONTAINER" ]; then
    podman umount "$CONTAINER" >/dev/null 2>&1 || true
    podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
  fi
  # Whatever happened, the temporary tag goes; only a fully checked image keeps a name.
  if podman image exists "$TAG" && [ "$(podman image inspect --format '{{.Id}}' "$TAG")" = \
    "$(podman image inspect --format '{{.Id}}' "$BUILD_TAG" 2>/dev/null)" ]; then
    podman untag "$BUILD_TAG" "$BUILD_TAG" >/dev/null 2>&1 || true
  else
    podman rmi -f --no-prune "$BUILD_TAG" >/dev/null 2>&1 || true  # the build cache stays
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
printf '[containers]\ndefault_ulimits = []\n' >"$WORK/containers.conf"
export CONTAINERS_CONF="$WORK/containers.conf"

# --- 1. the base image ------------------------------------------------------------------------------
if podman image exists "$BASE" || timeout 60 podman pull -q "$BASE" >/dev/null 2>&1; then
  base_from="registry ($BASE)"
else
  log "$BASE cannot be pulled; using a Debian bookworm base made with debootstrap"
  if ! podman image exists "$LOCAL_BASE"; then
    command -v debootstrap >/dev/null || die "no registry and no debootstrap: apt-get install debootstrap"
    log "debootstrap bookworm (python3, python3-venv) into $WORK/root"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$WORK/root" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$WORK/root/var/cache/apt/archives/"*.deb "$WORK/root/var/lib/apt/lists/"*
    tar -C "$WORK/root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$LOCAL_BASE" >/dev/null
    rm -rf "$WORK/root"
  fi
  BASE="$LOCAL_BASE"
  base_from="debootstrap (Debian bookworm, $LOCAL_BASE)"
fi

# A local CPU build of torch, when pip's find-links hold one, goes into the build context (.whl/):
# the image then needs no access to the PyTorch index.
mkdir -p .whl
for dir in $("$PY" -m pip config list 2>/dev/null | sed -n "s/.*find-links='\(.*\)'/\1/p") ${PIP_FIND_LINKS:-}; do
  for whl in "$dir"/torch-2.13.0*cpu*-cp311-*manylinux*x86_64.whl; do
    [ -e "$whl" ] && [ ! -e ".whl/$(basename "$whl")" ] && cp "$whl" .whl/
  done
done

# --- 2. build ---------------------------------------------------------------------------------------
log "podman build --isolation chroot (base: $BASE)"
start=$(date +%s)
# This machine's CA bundle, for pip behind a TLS-intercepting proxy (a secret: it stays out of the image).
CA_BUNDLE="${DUBKIT_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=pip_cert,src=$CA_BUNDLE")
podman build --isolation chroot --build-arg "BASE=$BASE" "${secret[@]}" -t "$BUILD_TAG" -f Dockerfile . \
  >"$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log" >&2; die "the build failed (full log above); no image was tagged"; }
build_s=$(($(date +%s) - start))
size_bytes=$(podman image inspect --format '{{.Size}}' "$BUILD_TAG")
log "built in ${build_s} s, $((size_bytes / 1024 / 1024)) MiB"

# --- 3. checks inside the image ----------------------------------------------------------------------
CONTAINER=$(podman create "$BUILD_TAG")
MOUNTED=$(podman mount "$CONTAINER")
mount --bind /proc "$MOUNTED/proc" && mount --bind /dev "$MOUNTED/dev" && mount --bind /dev/pts "$MOUNTED/dev/pts"
cp /etc/resolv.conf "$MOUNTED/etc/resolv.conf" 2>/dev/null || true
inside() { chroot --userspec=10001:10001 "$MOUNTED" /usr/bin/env -i HOME=/var/lib/dubkit \
  PATH=/opt/dubkit/bin:/usr/local/bin:/usr/bin:/bin DUBKIT_DATA_DIR=/var/lib/dubkit \
  DUBKIT_CACHE_DIR=/var/lib/dubkit/cache "$@"; }
declare -A CHECK
record() { CHECK[$1]=$2; log "check $1: $2"; }

out=$(inside dubkit --version 2>&1) && record version "ok: $out" || record version "FAILED: $out"

if inside dubkit backends --json >"$WORK/backends.json" 2>"$WORK/backends.err"; then
  missing=$("$PY" - "$WORK/backends.json" <<'EOF'
import json, sys
rows = {(r["kind"], r["name"]): r["available"] for r in json.load(open(sys.argv[1]))}
offline = [("transcriber", "faster-whisper"), ("vad", "silero"), ("diarizer", "resemblyzer"),
           ("translator", "apertium"), ("synthesizer", "espeak-ng"), ("synthesizer", "kokoro"),
           ("synthesizer", "piper"), ("separator", "none")]
print(" ".join(f"{k}/{n}" for k, n in offline if not rows.get((k, n))))
EOF
)
  [ -z "$missing" ] && record backends "ok: the offline backends are available" || record backends "FAILED: not available: $missing"
else
  record backends "FAILED: $(tail -3 "$WORK/backends.err")"
fi

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
inside dubkit serve --host 127.0.0.1 --port "$port" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
health="FAILED: no answer within 60 s"
for _ in $(seq 120); do
  if body=$(curl -fsS "http://127.0.0.1:$port/api/v1/health" 2>/dev/null); then health="ok: $body"; break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { health="FAILED: the server exited: $(tail -3 "$WORK/serve.log")"; break; }
  sleep 0.5
done
record server_health "$health"
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

mkdir -p "$MOUNTED/var/lib/dubkit/check"
"$PY" scripts/make_sample_video.py "$MOUNTED/var/lib/dubkit/check/sample.mp4" >/dev/null
chown -R 10001:10001 "$MOUNTED/var/lib/dubkit/check"
dub_start=$(date +%s)
if inside dubkit dub /var/lib/dubkit/check/sample.mp4 --to es -o /var/lib/dubkit/check >"$WORK/dub.log" 2>&1 &&
  [ -s "$MOUNTED/var/lib/dubkit/check/sample.es.mp4" ]; then
  used=$("$PY" scripts/project_backends.py "$MOUNTED/var/lib/dubkit/check/sample.es.dub.json" 2>/dev/null ||
    echo "backends unknown")
  record dub "ok: sample.es.mp4 written in $(($(date +%s) - dub_start)) s ($(stat -c %s "$MOUNTED/var/lib/dubkit/check/sample.es.mp4") bytes; $used)"
else
  record dub "FAILED: $(tail -5 "$WORK/dub.log" | tr '\n' ' ')"
fi
rm -rf "$MOUNTED/var/lib/dubkit/check"

# --- 4. results ---------------------------------------------------------------------------------------
failed=0
for k in "${!CHECK[@]}"; do [[ ${CHECK[$k]} == FAILED* ]] && failed=1; done
"$PY" - "$RESULTS" "$build_s" "$size_bytes" "$base_from" "$(podman --version)" \
  "${CHECK[version]}" "${CHECK[backends]}" "${CHECK[server_health]}" "${CHECK[dub]}" <<'EOF'
import json, sys, datetime
out, build_s, size, base, podman, *checks = sys.argv[1:]
names = ["version", "backends", "server_health", "dub"]
json.dump({
    "date": datetime.date.today().isoformat(),
    "builder": podman + " build --isolation chroot",
    "base": base,
    "build_seconds": int(build_s),
    "image_size_mib": round(int(size) / 2**20, 1),
    "checks": dict(zip(names, checks)),
    "all_passed": not any(c.startswith("FAILED") for c in checks),
}, open(out, "w"), indent=2)
open(out, "a").write("\n")
EOF
log "results: $RESULTS"
[ "$failed" = 0 ] || die "a check failed; the image was not tagged"
podman tag "$BUILD_TAG" "$TAG"
log "tagged $TAG"
