# syntax=docker/dockerfile:1
#
# dubkit's reference server and its workers: one image, two commands (see compose.yaml and docs/server.md).
#
#   docker build -t dubkit .
#   docker run --rm dubkit dubkit serve --hash-key alice          # make an API key
#   docker run --rm -p 127.0.0.1:8000:8000 -e DUBKIT_API_KEYS='alice:<hash>' dubkit
#
# Built and checked with podman by `./dev.sh image` (scripts/build_image.sh): the base image is a build
# argument, so a machine that cannot pull from a registry builds on a Debian root made with debootstrap.
# Python packages come from the lock (requirements/extras/deploy.lock: exact versions, hashes checked).
ARG BASE=python:3.11-slim-bookworm

# --- stage 1: the virtualenv, built with a compiler (a few locked packages are sources only) ----------
FROM ${BASE} AS venv
# Where torch comes from: a CPU build of exactly the tested version. A wheel placed in .whl/ in the
# build context is used instead (for machines without access to the PyTorch index).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/dubkit PATH=/opt/dubkit/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
    && if [ ! -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then \
        apt-get install -y --no-install-recommends python3-dev; fi \
    && if ! python3 -c 'import ensurepip' 2>/dev/null; then \
        apt-get install -y --no-install-recommends python3-venv; fi \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements/bootstrap.lock requirements/extras/deploy.lock ./
# `pyproject.toml` makes the copy succeed when .whl/ does not exist.
COPY pyproject.toml .whl* /build/wheels/
# A build behind a TLS-intercepting proxy passes its CA bundle as the secret `pip_cert`
# (--secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt); nothing of it stays in the image.
# Every distribution at its locked version and hash (--no-deps: nothing is resolved on the day),
# then torch (CPU build), then dubkit itself.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv "$VIRTUAL_ENV" \
    && pip install --no-deps --require-hashes -r bootstrap.lock \
    && pip install --no-deps --require-hashes -r deploy.lock \
    && if ls /build/wheels/torch-2.13.0*.whl >/dev/null 2>&1; then \
        pip install --no-deps --no-index --find-links /build/wheels 'torch==2.13.0'; \
       else \
        pip install --no-deps --index-url "$TORCH_INDEX" 'torch==2.13.0'; \
       fi
COPY pyproject.toml README.md ./
COPY src ./src
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && pip install --no-deps . \
    && find "$VIRTUAL_ENV" -name '__pycache__' -prune -exec rm -rf {} +

# --- stage 2: the image: the programs the backends call, the virtualenv, an unprivileged user ---------
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/dubkit \
    PATH=/opt/dubkit/bin:$PATH

# ffmpeg/ffprobe, espeak-ng (voices and the neural voices' phonemes), Apertium with every English pair
# Debian has and the Spanish ones (rule-based translation; the same set as dev.sh), Rubber Band (time
# stretching).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ffmpeg espeak-ng rubberband-cli ca-certificates apertium \
        apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-eu-en apertium-hbs-eng \
        apertium-isl-eng apertium-mkd-eng apertium-fr-es apertium-es-pt apertium-spa-ita apertium-es-ro \
        apertium-spa-cat apertium-es-gl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=venv /opt/dubkit /opt/dubkit
RUN python3 -c "import dubkit.server, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dubkit --create-home dubkit \
    && mkdir -p /srv/dubkit/files /var/lib/dubkit/cache \
    && chown -R dubkit:dubkit /srv/dubkit /var/lib/dubkit
USER dubkit
WORKDIR /var/lib/dubkit

ENV DUBKIT_DATA_DIR=/var/lib/dubkit \
    DUBKIT_CACHE_DIR=/var/lib/dubkit/cache \
    DUBKIT_LOG_LEVEL=INFO

EXPOSE 8000
# Listening on all interfaces needs API keys (DUBKIT_API_KEYS); without them `dubkit serve` refuses to start.
CMD ["dubkit", "serve", "--host", "0.0.0.0", "--port", "8000"]
