"""The ``resemblyzer`` diarizer: speaker embeddings from resemblyzer's pretrained encoder, clustered.

How it decides who speaks when:

1. Each speech region is read from the WAV file and cut into windows of the encoder's length (1.6 s)
   every ``hop`` seconds; every window gets an embedding (sub-second audio does not hold enough of a
   voice to tell speakers apart, so a short region gets one zero-padded window).
2. The windows are clustered agglomeratively (cosine distance, average linkage: scipy, with the labels
   of scikit-learn's ``AgglomerativeClustering``, see `dubkit.backends.agglomerative`): into
   ``num_speakers`` clusters when that is given, else by ``threshold``, then held within
   ``min_speakers``/``max_speakers``. Average linkage compares whole groups of windows, which
   separates voices that single windows cannot (on espeak-ng voices, thresholds 0.30-0.32 told
   apart every pair and trio tried, two male variants included, and kept single voices whole; 0.28
   split a single voice, 0.35 merged the closest pair).
3. Runs of windows shorter than ``min_turn`` seconds inside a region go to the longer neighbouring run.
4. Each window owns the time nearest its centre; adjacent windows of one speaker become a
   `SpeakerTurn`, never across a pause between regions. Labels are ``SPEAKER_00``,
   ``SPEAKER_01``, ... in order of first appearance.

Memory: one 256-float embedding per window (``hop`` 0.75 s: 4,800 per hour of speech). Clustering
needs the pairwise distances, so above ``max_windows`` windows it clusters an even sample and gives
every window the nearest cluster centroid. The mel spectrogram is computed in numpy rather than
through ``librosa.stft``, whose numba code would take 10-20 s to compile on first use.

By default (``device=None``) the encoder runs in numpy (`dubkit.backends.resemblyzer_encoder`):
a dub imports neither torch, resemblyzer, librosa nor scikit-learn, which saves 2-3 s of imports and
about 250 MB of memory per process; torch is needed once, to convert the packaged weights.
"""

from __future__ import annotations

import itertools
import logging
import warnings
import wave
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.agglomerative import average_linkage_labels
from dubkit.backends.base import BaseDiarizer
from dubkit.backends.numpy_lstm import one_blas_thread
from dubkit.backends.resemblyzer_encoder import load_speaker_encoder, mel_filter_bank, partial_slices
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError, DubkitError
from dubkit.models.media import AudioFile
from dubkit.models.speech import ChunkDiarization, SpeakerTurn, SpeechRegion, VoiceProfile

__all__ = ["ResemblyzerDiarizer"]

log = logging.getLogger(__name__)

_NAME = "resemblyzer"
_KIND = "diarizer"
_INSTALL = "pip install 'dubkit[diarize]'"
_RATE = 16000
_N_FFT, _HOP, _N_MELS = 400, 160, 40  # resemblyzer's mel settings: 25 ms windows, 10 ms hop, 40 bands
_Array = npt.NDArray[np.float32]
_BATCH = 128  # windows per encoder call


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}", field=attribute.name)


def _hop(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0.02 <= value <= 1.6:
        raise ConfigError(f"hop must be 0.02-1.6 s (the window is 1.6 s), got {value!r}", field="hop")


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


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
            min_turn: Shorter runs of windows inside a region go to a neighbour, seconds. This comes
                after clustering, so a cluster made only of such runs disappears: the speaker counts
                above bound the clustering, and the turns may name fewer speakers.
            min_speaker_seconds: With the count automatic, a cluster with less speech than this is
                folded into the nearest other cluster (too little audio to call it a new speaker).
            max_windows: Above this many windows, cluster an even sample of them (bounded memory:
                the distance matrix of 4,000 windows takes about 64 MB).
            device: ``None`` runs the encoder in numpy on the CPU (no torch); a torch device
                (``"cpu"``, ``"cuda"``) runs resemblyzer's torch module there (the same embeddings
                within 1e-5).
            weights_dir: Where the encoder's weights converted for numpy are kept
                (default ``~/.cache/dubkit/models/resemblyzer``).
        """

        num_speakers: int | None = attrs.field(default=None, validator=_positive)
        min_speakers: int | None = attrs.field(default=None, validator=_positive)
        max_speakers: int | None = attrs.field(default=None, validator=[_positive, _check_counts])
        threshold: float = attrs.field(default=0.32, validator=_positive)
        hop: float = attrs.field(default=0.75, validator=_hop)
        min_turn: float = attrs.field(default=1.0, validator=_not_negative)
        min_speaker_seconds: float = attrs.field(default=2.0, validator=_not_negative)
        max_windows: int = attrs.field(default=4000, validator=_positive)
        device: str | None = None
        weights_dir: Path | None = attrs.field(default=None, converter=_optional_path)

    _encoder: Any = None
    _torch: Any = None
    _mel_basis: Any = None

    def _load(self) -> None:
        if self.options.device is None:
            self._encoder = load_speaker_encoder(self.options.weights_dir)
        else:
            self._load_torch()
        # resemblyzer's own mel spectrogram goes through librosa.stft, whose numba code takes ~15 s to
        # compile on first use; the same spectrogram in numpy (below) costs nothing up front.
        self._mel_basis = mel_filter_bank(_RATE, _N_FFT, _N_MELS)

    def _load_torch(self) -> None:
        try:
            import torch  # noqa: TID251

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

    def _close(self) -> None:
        self._encoder = self._torch = self._mel_basis = None

    # --- the capability --------------------------------------------------------------------------

    @property
    def link_distance(self) -> float:
        """Chunks' voices closer than the clustering ``threshold`` are one speaker (the same criterion)."""
        return self.options.threshold

    @property
    def speaker_limit(self) -> int | None:
        """``num_speakers`` when given, else ``max_speakers``."""
        return self.options.num_speakers or self.options.max_speakers

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        """Speaker turns inside ``regions`` of a 16 kHz mono 16-bit PCM WAV file, in time order.

        Raises:
            BackendRuntimeError: the file cannot be read or the encoder failed.
        """
        windows, labels, _ = self._diarize(audio, regions, chunk=False)
        return _turns(windows, labels)

    def diarize_chunk(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> ChunkDiarization:
        """One chunk's turns and a voice profile per speaker (see `LinkableDiarizer`).

        A given ``num_speakers`` is the most speakers a chunk may have, not the count in every chunk (a
        chunk may hear only one of them); the diarize stage holds the whole input to the count.

        Raises:
            BackendRuntimeError: the file cannot be read or the encoder failed.
        """
        windows, labels, embeddings = self._diarize(audio, regions, chunk=True)
        names = {label: f"SPEAKER_{i:02d}" for i, label in enumerate(dict.fromkeys(labels))}
        index = np.asarray(labels, dtype=np.int64)
        voices = tuple(
            VoiceProfile(
                speaker=name,
                mean_embedding=tuple(float(v) for v in embeddings[index == label].mean(axis=0)),
                windows=int(np.count_nonzero(index == label)),
            )
            for label, name in names.items()
        )
        return ChunkDiarization(turns=tuple(_turns(windows, labels)), voices=voices)

    def _diarize(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], *, chunk: bool
    ) -> tuple[list[_Window], list[int], _Array]:
        """Windows, their speaker labels and their embeddings."""
        self.load()
        try:
            windows, embeddings = self._embed(audio, regions)
            labels = self._label(windows, embeddings, chunk=chunk) if windows else []
        except DubkitError:
            raise
        except Exception as exc:
            raise BackendRuntimeError(f"diarization failed: {exc}", kind=_KIND, name=_NAME) from exc
        return windows, labels, embeddings

    # --- embedding -------------------------------------------------------------------------------

    def _embed(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> tuple[list[_Window], _Array]:
        """The windows of every region and their L2-normalised embeddings.

        The windows of all regions go through the encoder together, ``_BATCH`` at a time: one LSTM call
        per region (a few windows each) costs about four times as much on CPU. A batch is embedded as soon
        as it is full, so only one batch of mel spectrograms is held at a time, however long the input.
        """
        windows: list[_Window] = []
        pending: list[_Array] = []
        parts: list[_Array] = []
        with _open_wav(audio) as wav, self._batch_encoder() as encode:
            duration = wav.getnframes() / _RATE
            for region in sorted(regions, key=lambda r: r.start):
                start, end = max(0.0, region.start), min(region.end, duration)
                if end - start < 0.05:
                    continue
                wav.setpos(round(start * _RATE))
                raw = wav.readframes(round((end - start) * _RATE))
                samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
                samples = _normalise_volume(samples)
                slices, spans = self._partials(samples)
                windows.extend(_Window(float(start + a), float(min(end, start + b))) for a, b in spans)
                pending.extend(slices)
                while len(pending) >= _BATCH:
                    parts.append(encode(np.stack(pending[:_BATCH])))
                    del pending[:_BATCH]
            if pending:
                parts.append(encode(np.stack(pending)))
        if not parts:
            return [], np.zeros((0, 256), dtype=np.float32)
        return windows, _normalise(np.concatenate(parts).astype(np.float32))

    @contextmanager
    def _batch_encoder(self) -> Iterator[Callable[[_Array], _Array]]:
        """The encoder as a function of a batch of mel windows, with BLAS on one thread for the block.

        A multi-threaded BLAS makes its threads meet inside each of the LSTM's small products: on a busy
        machine (a worker beside other jobs) they wait on each other (up to 8x slower per batch). The
        numpy encoder instead cuts each batch across its own threads (`SpeakerEncoder.workers`), which
        never wait on each other; the torch module runs on one thread.
        """
        if self._torch is None:
            with one_blas_thread() or nullcontext():
                yield self._encoder
            return
        torch = self._torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                yield (
                    lambda batch: (
                        self._encoder(torch.from_numpy(batch).to(self._encoder.device)).cpu().numpy()
                    )
                )
        finally:
            torch.set_num_threads(threads)

    def _partials(self, samples: _Array) -> tuple[list[_Array], list[tuple[float, float]]]:
        """Mel spectrograms of the 1.6 s windows of one region, and each window's share of it (seconds).

        What resemblyzer's ``embed_utterance(return_partials=True)`` does before its encoder, with the mel
        spectrogram in numpy.
        """
        wav_slices, mel_slices = partial_slices(len(samples), 1.0 / self.options.hop, 0.5)
        needed = wav_slices[-1].stop
        if len(samples) < needed:
            # Repeat a short utterance rather than padding it with silence: silence pulls its
            # embedding away from the speaker's other windows.
            padded = np.resize(samples, needed) if len(samples) else np.zeros(needed, np.float32)
        else:
            padded = samples
        mel = _mel_frames(padded, self._mel_basis)
        length = len(samples) / _RATE
        centers = [min(length, (s.start + s.stop) / 2 / _RATE) for s in wav_slices]
        # Each window owns the time nearest its centre: cut halfway between neighbouring centres.
        cuts = [0.0, *((a + b) / 2 for a, b in itertools.pairwise(centers)), length]
        spans = [(cuts[i], cuts[i + 1]) for i in range(len(centers))]
        return [mel[s] for s in mel_slices], spans

    # --- clustering ------------------------------------------------------------------------------

    def _label(self, windows: list[_Window], embeddings: _Array, *, chunk: bool) -> list[int]:
        opts = self.options
        exact = None if chunk else opts.num_speakers
        low = 1 if chunk and opts.num_speakers is not None else opts.min_speakers
        high = (opts.num_speakers or opts.max_speakers) if chunk else opts.max_speakers
        labels = self._cluster(embeddings, exact=exact, low=low, high=high).tolist()
        if exact is None:
            labels = _merge_small_clusters(windows, labels, embeddings, opts.min_speaker_seconds, low or 1)
        return _absorb_short_runs(windows, labels, opts.min_turn)

    def _cluster(
        self, embeds: _Array, *, exact: int | None, low: int | None, high: int | None
    ) -> npt.NDArray[np.int64]:
        """Cluster labels: ``exact`` clusters, or by ``threshold`` held within ``low``..``high``."""
        opts = self.options
        n = len(embeds)
        if n == 1:
            return np.zeros(1, dtype=np.int64)
        sample = np.arange(n)
        if n > opts.max_windows:
            sample = np.linspace(0, n - 1, opts.max_windows).round().astype(np.int64)
        x = embeds[sample]
        if exact is not None:
            labels = self._fit(x, n_clusters=min(exact, len(x)))
        else:
            labels = self._fit(x, threshold=opts.threshold)
            count = int(labels.max()) + 1
            wanted = min(max(count, low or 1), high or len(x), len(x))
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
        return average_linkage_labels(x, n_clusters=n_clusters, threshold=threshold)


# --- helpers -------------------------------------------------------------------------------------


def _normalise_volume(samples: _Array, target_dbfs: float = -30.0) -> _Array:
    """Raise quiet audio to ``target_dbfs`` RMS (never lower it), as resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms <= 1e-9:
        return samples
    gain_db = target_dbfs - 20 * np.log10(rms)
    return samples if gain_db <= 0 else np.asarray(samples * 10 ** (gain_db / 20), dtype=np.float32)


def _mel_frames(samples: _Array, basis: _Array) -> _Array:
    """Mel power spectrogram (frames x mels), as resemblyzer computes it, in numpy.

    The same as ``librosa.feature.melspectrogram`` with 25 ms Hann windows every 10 ms, centred and
    zero-padded (equal to librosa's within 1e-6).
    """
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    padded = np.pad(samples, _N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return np.asarray(power @ basis.T, dtype=np.float32)


def _normalise(x: _Array) -> _Array:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-9), dtype=np.float32)


def _merge_small_clusters(
    windows: list[_Window], labels: list[int], embeddings: _Array, min_seconds: float, min_count: int
) -> list[int]:
    """Fold clusters with less than ``min_seconds`` of speech into the nearest other cluster.

    A speaker heard for under a second or two cannot be told apart reliably from so little audio; such
    a cluster is far more often a stray voice variant of someone else than a new speaker.
    """
    out = list(labels)
    while True:
        present = sorted(set(out))
        if len(present) <= max(1, min_count):
            return out
        seconds = {
            k: sum(w.end - w.start for w, lab in zip(windows, out, strict=True) if lab == k) for k in present
        }
        smallest = min(present, key=lambda k: seconds[k])
        if seconds[smallest] >= min_seconds:
            return out
        centroids = {
            k: _normalise(embeddings[[i for i, lab in enumerate(out) if lab == k]].mean(axis=0)[None])[0]
            for k in present
        }
        nearest = max(
            (k for k in present if k != smallest), key=lambda k: float(centroids[smallest] @ centroids[k])
        )
        out = [nearest if lab == smallest else lab for lab in out]


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
