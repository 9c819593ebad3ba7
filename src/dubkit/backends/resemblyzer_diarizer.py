"""The ``resemblyzer`` diarizer: speaker embeddings from resemblyzer's pretrained encoder, clustered.

How it decides who speaks when:

1. Each speech region is read from the WAV file and cut into windows of the encoder's length (1.6 s)
   every ``hop`` seconds; every window gets an embedding (sub-second audio does not hold enough of a
   voice to tell speakers apart, so a short region gets one zero-padded window).
2. The windows are clustered with scikit-learn's agglomerative clustering (cosine distance, average
   linkage): into ``num_speakers`` clusters when that is given, else by ``threshold``, then held
   within ``min_speakers``/``max_speakers``. Average linkage compares whole groups of windows, which
   separates voices that single windows cannot (on espeak-ng voices, thresholds 0.30-0.32 told
   apart every pair and trio tried, two male variants included, and kept single voices whole; 0.28
   split a single voice, 0.35 merged the closest pair).
3. Runs of windows shorter than ``min_turn`` seconds inside a region go to the longer neighbouring run.
4. Each window owns the time nearest its centre; adjacent windows of one speaker become a
   `SpeakerTurn`, never across a pause between regions. Labels are ``SPEAKER_00``,
   ``SPEAKER_01``, ... in order of first appearance.

Memory: one 256-float embedding per window (``hop`` 0.75 s: 4,800 per hour of speech). Clustering
needs the pairwise distances, so above ``max_windows`` windows it clusters an even sample and gives
every window the nearest cluster centroid. The first run in a new environment spends about 17 s
compiling librosa's numba code.
"""

from __future__ import annotations

import itertools
import logging
import warnings
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseDiarizer
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError, DubkitError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeakerTurn, SpeechRegion

__all__ = ["ResemblyzerDiarizer"]

log = logging.getLogger(__name__)

_NAME = "resemblyzer"
_KIND = "diarizer"
_INSTALL = "pip install 'dubkit[diarize]'"
_RATE = 16000
_WINDOW_SECONDS = 1.6  # resemblyzer's partial utterance: 160 frames of 10 ms
_Array = npt.NDArray[np.float32]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}", field=attribute.name)


def _check_counts(instance: ResemblyzerDiarizer.Options, attribute: attrs.Attribute[Any], value: Any) -> None:
    low, high = instance.min_speakers, instance.max_speakers
    if low is not None and high is not None and low > high:
        raise ConfigError(f"min_speakers {low} is over max_speakers {high}", field="min_speakers")


@attrs.frozen
class _Window:
    start: float
    end: float


class ResemblyzerDiarizer(BaseDiarizer["ResemblyzerDiarizer.Options"]):
    """Windowed resemblyzer embeddings, agglomerative clustering, smoothing; see the module docs."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            num_speakers: The number of speakers when known (best); ``None`` = decide by ``threshold``.
            min_speakers: At least this many speakers (automatic count only).
            max_speakers: At most this many speakers (automatic count only).
            threshold: Average cosine distance under which clusters merge. Lower finds more speakers.
                Tuned on espeak-ng voices; real recordings may want another value.
            hop: Seconds between the starts of two embedding windows (windows are 1.6 s long).
            min_turn: Shorter runs of windows inside a region go to a neighbour, seconds.
            max_windows: Above this many windows, cluster an even sample of them (bounded memory:
                the distance matrix of 4,000 windows takes about 64 MB).
            device: torch device for the encoder.
        """

        num_speakers: int | None = attrs.field(default=None, validator=_positive)
        min_speakers: int | None = attrs.field(default=None, validator=_positive)
        max_speakers: int | None = attrs.field(default=None, validator=[_positive, _check_counts])
        threshold: float = attrs.field(default=0.32, validator=_positive)
        hop: float = attrs.field(default=0.75, validator=_positive)
        min_turn: float = attrs.field(default=1.0, validator=_not_negative)
        max_windows: int = attrs.field(default=4000, validator=_positive)
        device: str = "cpu"

    _encoder: Any = None
    _torch: Any = None
    _clustering: Any = None

    def _load(self) -> None:
        try:
            import torch  # noqa: TID251
            from sklearn.cluster import AgglomerativeClustering

            with warnings.catch_warnings():
                # resemblyzer imports scipy.ndimage.morphology (deprecated) and webrtcvad imports
                # pkg_resources (deprecated); neither is ours to fix.
                warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*scipy\.ndimage")
                warnings.filterwarnings("ignore", category=UserWarning, message=r".*pkg_resources")
                warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*pkg_resources")
                from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import {exc.name or exc}", install=_INSTALL
            ) from exc
        try:
            self._encoder = VoiceEncoder(self.options.device, verbose=False)
        except Exception as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot load the resemblyzer encoder: {exc}", install=_INSTALL
            ) from exc
        self._torch = torch
        self._clustering = AgglomerativeClustering

    def _close(self) -> None:
        self._encoder = self._torch = self._clustering = None

    # --- the capability --------------------------------------------------------------------------

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        """Speaker turns inside ``regions`` of a 16 kHz mono 16-bit PCM WAV file, in time order.

        Raises:
            BackendRuntimeError: the file cannot be read or the encoder failed.
        """
        self.load()
        try:
            windows, embeddings = self._embed(audio, regions)
            if not windows:
                return []
            labels = self._label(windows, embeddings)
        except DubkitError:
            raise
        except Exception as exc:
            raise BackendRuntimeError(f"diarization failed: {exc}", kind=_KIND, name=_NAME) from exc
        return _turns(windows, labels)

    # --- embedding -------------------------------------------------------------------------------

    def _embed(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> tuple[list[_Window], _Array]:
        """The windows of every region and their L2-normalised embeddings."""
        from resemblyzer.audio import normalize_volume

        windows: list[_Window] = []
        parts: list[_Array] = []
        with _open_wav(audio) as wav:
            duration = wav.getnframes() / _RATE
            for region in sorted(regions, key=lambda r: r.start):
                start, end = max(0.0, region.start), min(region.end, duration)
                if end - start < 0.05:
                    continue
                wav.setpos(round(start * _RATE))
                raw = wav.readframes(round((end - start) * _RATE))
                samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
                samples = normalize_volume(samples, -30, increase_only=True).astype(np.float32)
                embeds, spans = self._partials(samples)
                windows.extend(_Window(float(start + a), float(min(end, start + b))) for a, b in spans)
                parts.append(embeds)
        if not parts:
            return [], np.zeros((0, 256), dtype=np.float32)
        return windows, _normalise(np.concatenate(parts))

    def _partials(self, samples: _Array) -> tuple[_Array, list[tuple[float, float]]]:
        """Embeddings of the 1.6 s windows of one region, and each window's share of the region (seconds)."""
        rate = 1.0 / self.options.hop
        with self._torch.inference_mode():
            _, embeds, slices = self._encoder.embed_utterance(
                samples, return_partials=True, rate=rate, min_coverage=0.5
            )
        length = len(samples) / _RATE
        centers = [min(length, (s.start + s.stop) / 2 / _RATE) for s in slices]
        # Each window owns the time nearest its centre: cut halfway between neighbouring centres.
        cuts = [0.0, *((a + b) / 2 for a, b in itertools.pairwise(centers)), length]
        spans = [(cuts[i], cuts[i + 1]) for i in range(len(centers))]
        return np.asarray(embeds, dtype=np.float32), spans

    # --- clustering ------------------------------------------------------------------------------

    def _label(self, windows: list[_Window], embeddings: _Array) -> list[int]:
        labels = self._cluster(embeddings).tolist()
        return _absorb_short_runs(windows, labels, self.options.min_turn)

    def _cluster(self, embeds: _Array) -> npt.NDArray[np.int64]:
        opts = self.options
        n = len(embeds)
        if n == 1:
            return np.zeros(1, dtype=np.int64)
        sample = np.arange(n)
        if n > opts.max_windows:
            sample = np.linspace(0, n - 1, opts.max_windows).round().astype(np.int64)
        x = embeds[sample]
        if opts.num_speakers is not None:
            labels = self._fit(x, n_clusters=min(opts.num_speakers, len(x)))
        else:
            labels = self._fit(x, threshold=opts.threshold)
            count = int(labels.max()) + 1
            wanted = min(max(count, opts.min_speakers or 1), opts.max_speakers or count, len(x))
            if wanted != count:
                labels = self._fit(x, n_clusters=wanted)
        if len(sample) == n:
            return labels
        centroids = _normalise(np.stack([x[labels == k].mean(axis=0) for k in range(int(labels.max()) + 1)]))
        return np.asarray((embeds @ centroids.T).argmax(axis=1), dtype=np.int64)

    def _fit(
        self, x: _Array, *, n_clusters: int | None = None, threshold: float | None = None
    ) -> npt.NDArray[np.int64]:
        if n_clusters == 1:
            return np.zeros(len(x), dtype=np.int64)
        model = self._clustering(
            n_clusters=n_clusters, distance_threshold=threshold, metric="cosine", linkage="average"
        )
        return np.asarray(model.fit_predict(x), dtype=np.int64)


# --- helpers -------------------------------------------------------------------------------------


def _normalise(x: _Array) -> _Array:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-9), dtype=np.float32)


def _absorb_short_runs(windows: list[_Window], labels: list[int], min_turn: float) -> list[int]:
    """Give runs of one label shorter than ``min_turn`` seconds to the longer neighbouring run.

    Runs are counted within contiguous windows (a pause between regions ends a run); a short region
    that is all one speaker is never relabelled here.
    """
    labels = list(labels)
    changed = True
    while changed:
        changed = False
        runs = _runs(windows, labels)
        for index, (first, last) in enumerate(runs):
            length = windows[last].end - windows[first].start
            contiguous_before = (
                index > 0 and runs[index - 1][1] == first - 1 and _touch(windows, first - 1, first)
            )
            contiguous_after = (
                index + 1 < len(runs) and runs[index + 1][0] == last + 1 and _touch(windows, last, last + 1)
            )
            if length >= min_turn or not (contiguous_before or contiguous_after):
                continue
            before = _length(windows, runs[index - 1]) if contiguous_before else -1.0
            after = _length(windows, runs[index + 1]) if contiguous_after else -1.0
            new = labels[first - 1] if before >= after else labels[last + 1]
            if new != labels[first]:
                for i in range(first, last + 1):
                    labels[i] = new
                changed = True
                break
    return labels


def _touch(windows: list[_Window], a: int, b: int) -> bool:
    return windows[b].start - windows[a].end < 1e-6


def _length(windows: list[_Window], run: tuple[int, int]) -> float:
    return windows[run[1]].end - windows[run[0]].start


def _runs(windows: list[_Window], labels: list[int]) -> list[tuple[int, int]]:
    """(first, last) window indexes of each stretch of one label over touching windows."""
    runs: list[tuple[int, int]] = []
    for i in range(len(windows)):
        if runs and labels[i] == labels[i - 1] and _touch(windows, i - 1, i):
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _turns(windows: list[_Window], labels: list[int]) -> list[SpeakerTurn]:
    names: dict[int, str] = {}
    turns: list[SpeakerTurn] = []
    for first, last in _runs(windows, labels):
        label = labels[first]
        name = names.setdefault(label, f"SPEAKER_{len(names):02d}")
        turns.append(SpeakerTurn(windows[first].start, windows[last].end, name))
    return turns


@contextmanager
def _open_wav(audio: AudioFile) -> Iterator[wave.Wave_read]:
    """``wave.open`` that checks for 16 kHz 16-bit mono and reports failures as BackendRuntimeError."""
    name = audio.path.name
    try:
        wav = wave.open(str(audio.path), "rb")  # noqa: SIM115 - closed by the with block below
    except (OSError, EOFError, wave.Error) as exc:
        raise BackendRuntimeError(f"cannot read {name}: {exc}", kind=_KIND, name=_NAME) from exc
    with wav:
        shape = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
        if shape != (_RATE, 2, 1):
            raise BackendRuntimeError(
                f"{name} is {shape[0]} Hz, {8 * shape[1]}-bit, {shape[2]} channel(s); "
                "the diarizer needs the 16 kHz 16-bit mono analysis track",
                kind=_KIND,
                name=_NAME,
            )
        yield wav
