"""The ``openai-whisper`` transcriber: OpenAI's reference Whisper (PyTorch).

Weights load through ``whisper.load_model``: an official name (``base``, ``small``, ``large-v3``, ...)
is fetched once into ``download_root``; a path to a checkpoint file (``{"dims": ..., "model_state_dict":
...}``, as OpenAI publishes them) loads offline. The 16 kHz mono WAV is decoded here with numpy and
handed to Whisper as a float32 array, so Whisper never starts ffmpeg itself. Only the speech regions
are transcribed (Whisper's ``clip_timestamps``); times in the result are relative to the whole file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseTranscriber
from dubkit.backends.devices import DeviceBackendMixin, check_device_option
from dubkit.backends.wav import read_wav_mono
from dubkit.errors import BackendRuntimeError, BackendUnavailableError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion, Transcript, TranscriptSegment, Word

__all__ = ["WHISPER_LANGUAGES", "OpenAIWhisperTranscriber"]

_KIND, _NAME = "transcriber", "openai-whisper"
_INSTALL = "pip install 'dubkit[whisper]'"
_RATE = 16000
_MIN_REGION = 0.02  # seconds; shorter regions hold no decodable audio

_WHISPER_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta nb th ur "
    "hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si "
    "km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln "
    "ha ba jw su yue"
)
#: Whisper's language codes (``whisper.tokenizer.LANGUAGES``), as ISO 639-1 where dubkit differs
#: (Whisper's ``no`` is dubkit's ``nb``). A test checks this against the installed package.
WHISPER_LANGUAGES: frozenset[str] = frozenset(_WHISPER_CODES.split())
_TO_WHISPER = {"nb": "no"}
_FROM_WHISPER = {v: k for k, v in _TO_WHISPER.items()}


@contextmanager
def _quiet_third_party() -> Iterator[None]:
    """Silence the two warnings Whisper's own code triggers (nothing dubkit can act on)."""
    with warnings.catch_warnings():
        # whisper.tokenizer reads its vocabulary with open(...) and never closes the file.
        warnings.filterwarnings("ignore", category=ResourceWarning, message=r"unclosed file .*\.tiktoken")
        # whisper.timing hands torch tensors to numpy functions (NumPy 2 deprecation).
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"__array_wrap__ must accept")
        yield


def _merge(regions: Sequence[SpeechRegion], duration: float) -> list[tuple[float, float]]:
    """Sorted, clipped to the audio, overlaps merged, slivers dropped."""
    spans: list[list[float]] = []
    for region in sorted(regions, key=lambda r: r.start):
        start, end = max(0.0, region.start), min(duration, region.end)
        if end - start < _MIN_REGION:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(s, e) for s, e in spans]


def _resample(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """Linear resampling to 16 kHz, for the rare input that is not at 16 kHz already."""
    if rate == _RATE or samples.size == 0:
        return samples
    n_out = round(samples.size * _RATE / rate)
    x_out = np.arange(n_out, dtype=np.float64) * (rate / _RATE)
    return np.interp(x_out, np.arange(samples.size), samples).astype(np.float32)


class OpenAIWhisperTranscriber(DeviceBackendMixin, BaseTranscriber["OpenAIWhisperTranscriber.Options"]):
    """Whisper (OpenAI's PyTorch implementation) on the speech regions of a 16 kHz mono file."""

    runtime = "torch"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: An official model name (``tiny``, ``base``, ``small``, ``medium``, ``large-v3``,
                ``turbo``, ``base.en``, ...) or a path to a local checkpoint file.
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:1``.
            download_root: Where named models are cached (Whisper's default: ``~/.cache/whisper``).
            word_timestamps: Give word timings (cross-attention alignment).
            beam_size: Beam width at temperature 0; ``None`` decodes greedily.
            temperature: Temperatures tried in turn when a decode looks like a failure.
            condition_on_previous_text: Prompt each window with the text before it.
            initial_prompt: Text that sets the style and vocabulary of the first window.
            fp16: Half precision; ``None`` means on CUDA only.
            detect_seconds: Seconds of speech (from the first regions) used to detect the language.
        """

        model: str = "base"
        device: str = attrs.field(default="auto", validator=check_device_option)
        download_root: str | None = None
        word_timestamps: bool = True
        beam_size: int | None = 5
        temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
        condition_on_previous_text: bool = True
        initial_prompt: str | None = None
        fp16: bool | None = None
        detect_seconds: float = 30.0

    _model: Any = None
    _whisper: Any = None
    _device: str = "cpu"

    def languages(self) -> Collection[str] | None:
        """``en`` for English-only models (``*.en``), else every language Whisper knows."""
        if self.options.model.endswith(".en"):
            return frozenset({"en"})
        return WHISPER_LANGUAGES

    def _load(self) -> None:
        try:
            import whisper
            import whisper.tokenizer
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import whisper: {exc}", install=_INSTALL
            ) from exc
        opts = self.options
        device = self._resolve_device()
        try:
            model = whisper.load_model(opts.model, device=device, download_root=opts.download_root)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"cannot load Whisper model {opts.model!r} ({exc}); name an official model where its "
                "download site can be reached, or set the model option to a local checkpoint file",
            ) from exc
        model.eval()
        with _quiet_third_party():  # builds and caches the tokenizer once
            whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
        self._whisper, self._model, self._device = whisper, model, device
        self._set_device_use(device, "float16" if self._fp16 else "float32")

    def _close(self) -> None:
        self._model = None
        self._whisper = None

    @property
    def _fp16(self) -> bool:
        fp16 = self.options.fp16
        return self._device.startswith("cuda") if fp16 is None else fp16

    def _detect(
        self, samples: npt.NDArray[np.float32], spans: Sequence[tuple[float, float]]
    ) -> tuple[str, float]:
        """Detect the language on up to ``detect_seconds`` of speech taken from the first regions."""
        whisper, model = self._whisper, self._model
        if not model.is_multilingual:
            return "en", 1.0
        budget = int(self.options.detect_seconds * _RATE)
        parts: list[npt.NDArray[np.float32]] = []
        for start, end in spans:
            chunk = samples[int(start * _RATE) : int(end * _RATE)][: budget - sum(p.size for p in parts)]
            parts.append(chunk)
            if sum(p.size for p in parts) >= budget:
                break
        speech = np.concatenate(parts) if parts else samples[:budget]
        mel = whisper.log_mel_spectrogram(speech, model.dims.n_mels, padding=whisper.audio.N_SAMPLES)
        mel = whisper.pad_or_trim(mel, whisper.audio.N_FRAMES).to(model.device)
        if self._fp16:
            mel = mel.half()
        with _quiet_third_party():
            _, probs = model.detect_language(mel)
        code = max(probs, key=probs.get)
        return _FROM_WHISPER.get(code, code), float(probs[code])

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        """Transcribe the regions of a 16 kHz mono WAV file.

        Args:
            audio: The analysis track (16-bit PCM WAV; other rates are resampled linearly).
            regions: Where speech is.
            language: ISO 639-1 code, or ``None`` to detect it from the first regions.

        Returns:
            Segments (with words when ``word_timestamps``) whose times are relative to the whole file,
            each clamped to the region it starts in.

        Raises:
            BackendRuntimeError: Whisper failed on this file.
        """
        self.load()
        rate, samples = read_wav_mono(audio.path)
        samples = _resample(samples, rate)
        duration = samples.size / _RATE
        spans = _merge(regions, duration)
        if not spans:
            return Transcript(language=language or "und")
        try:
            probability: float | None = None
            if language is None:
                language, probability = self._detect(samples, spans)
            result = self._run(samples, spans, language)
        except (RuntimeError, ValueError) as exc:
            raise BackendRuntimeError(
                f"whisper failed on {audio.path.name}: {exc}", kind=_KIND, name=_NAME, unit=audio.path.name
            ) from exc
        segments = tuple(_segments(result.get("segments", ()), spans))
        return Transcript(language=language, segments=segments, language_probability=probability)

    def _run(
        self, samples: npt.NDArray[np.float32], spans: Sequence[tuple[float, float]], language: str
    ) -> Any:
        opts = self.options
        decode: dict[str, Any] = {"fp16": self._fp16}
        if opts.beam_size is not None:
            decode["beam_size"] = opts.beam_size
        clips = [t for span in spans for t in span]
        with _quiet_third_party():
            return self._whisper.transcribe(
                self._model,
                samples,
                verbose=None,
                language=_TO_WHISPER.get(language, language),
                task="transcribe",
                temperature=opts.temperature,
                word_timestamps=opts.word_timestamps,
                condition_on_previous_text=opts.condition_on_previous_text,
                initial_prompt=opts.initial_prompt,
                clip_timestamps=clips,
                **decode,
            )


def _span_of(start: float, spans: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The region a time falls in (or the nearest one)."""
    return min(
        spans, key=lambda s: 0.0 if s[0] <= start <= s[1] else min(abs(start - s[0]), abs(start - s[1]))
    )


def _segments(
    raw: Sequence[dict[str, Any]], spans: Sequence[tuple[float, float]]
) -> Iterator[TranscriptSegment]:
    index = 0
    for seg in raw:
        text = str(seg.get("text", "")).strip()
        if not text:
            continue
        lo, hi = _span_of(float(seg["start"]), spans)

        def clamp(t: float, lo: float = lo, hi: float = hi) -> float:
            return min(max(float(t), lo), hi)

        start = clamp(seg["start"])
        end = max(start, clamp(seg["end"]))
        words = []
        for w in seg.get("words") or ():
            w_start = clamp(w["start"])
            words.append(
                Word(w_start, max(w_start, clamp(w["end"])), str(w["word"]), float(w["probability"]))
            )
        if words:
            confidence: float | None = float(np.mean([w.probability for w in words]))
        elif "avg_logprob" in seg:
            confidence = math.exp(float(seg["avg_logprob"]))
        else:
            confidence = None
        index += 1
        yield TranscriptSegment(
            id=f"seg-{index:04d}", start=start, end=end, text=text, words=tuple(words), confidence=confidence
        )
