"""The ``kokoro`` synthesizer: Kokoro-82M (int8 ONNX) on onnxruntime, phonemes from espeak-ng.

The model and five voices ship in packages (`dubkit.backends.kokoro_model`); the ``model`` and
``voices`` options point it at others (a Kokoro ONNX export, ``voices-v1.0.bin`` or any ``.npz`` of
style vectors). Text is turned into the target language's espeak-ng phonemes (Spanish text into
``es`` phonemes, ...) by kokoro-onnx's tokenizer, so the voices speak every language Kokoro was trained
on (`dubkit.backends.kokoro_voices.KOKORO_LANGUAGES`), whatever accent their name says. Voice ids may
blend voices (``jm_kumo:0.75+jf_alpha:0.25``); `voices` offers the named voices and blends of them,
so many speakers get distinct voices. Clips are 24 kHz mono 16-bit WAV.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseSynthesizer
from dubkit.backends.devices import CudaProbe, DeviceBackendMixin, check_device_option
from dubkit.backends.kokoro_model import assemble_kokoro_model, packaged_voices_path
from dubkit.backends.kokoro_voices import KOKORO_LANGUAGES, parse_voice_id, voice_pool
from dubkit.backends.onnx_session import cpu_workers, open_session, session_device
from dubkit.backends.speakable import clean_text, has_words
from dubkit.backends.wav import write_pcm16
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError, UnspeakableTextError
from dubkit.models.media import AudioFile
from dubkit.models.speech import Voice

__all__ = ["KokoroSynthesizer"]

_KIND, _NAME = "synthesizer", "kokoro"
_INSTALL = "pip install 'dubkit[voices]'"
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigError(f"{attribute.name} must be >= 1, got {value!r}", field=attribute.name)


class KokoroSynthesizer(DeviceBackendMixin, BaseSynthesizer["KokoroSynthesizer.Options"]):
    """Kokoro-82M voices: natural speech in en, es, fr, it, pt, hi, ja and zh, about 0.5 CPU-s a second."""

    runtime = "onnxruntime"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: A Kokoro ONNX model file; ``None``: the packaged Kokoro-82M int8, assembled once in
                ``model_dir``.
            voices: A file of style vectors (``voices-v1.0.bin`` or an ``.npz`` of name -> 510 x 1 x 256
                arrays); ``None``: the five packaged voices.
            device: ``auto`` (CUDA when onnxruntime has it, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
            threads: onnxruntime threads per line; the synthesize stage voices a line per
                ``threads`` cores at once (one thread a line is the most speech per CPU-second).
            model_dir: Where the packaged model is assembled (default ``~/.cache/dubkit/models/kokoro-82m``).
            blends: Offer blends of the voices, so that more speakers get distinct voices.
        """

        model: str | None = None
        voices: str | None = None
        device: str = attrs.field(default="auto", validator=check_device_option)
        threads: int = attrs.field(default=1, validator=_positive)
        model_dir: str | None = None
        blends: bool = True

    _kokoro: Any = None
    _names: tuple[str, ...] | None = None

    def __init__(
        self, options: KokoroSynthesizer.Options | None = None, *, cuda_probe: CudaProbe | None = None
    ) -> None:
        super().__init__(options, cuda_probe=cuda_probe)
        self._styles: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def concurrent_calls(self) -> int:
        """Lines voiced at once: one per ``threads`` cores (a session runs calls side by side)."""
        return cpu_workers(self.options.threads)

    # --- weights ---------------------------------------------------------------------------------

    def _voices_path(self) -> Path:
        return Path(self.options.voices).expanduser() if self.options.voices else packaged_voices_path()

    def _model_path(self) -> Path:
        if self.options.model:
            return Path(self.options.model).expanduser()
        folder = Path(self.options.model_dir).expanduser() if self.options.model_dir else None
        return assemble_kokoro_model(folder)

    def _load(self) -> None:
        try:
            import onnxruntime  # type: ignore[import-untyped]
            from kokoro_onnx import Kokoro
        except ImportError as exc:
            reason = f"cannot import kokoro-onnx: {exc}"
            raise BackendUnavailableError(_KIND, _NAME, reason, install=_INSTALL) from exc
        styles = self._read_styles()
        session = open_session(
            onnxruntime,
            self._model_path(),
            device=self.options.device,
            threads=self.options.threads,
            kind=_KIND,
            name=_NAME,
            install=_INSTALL,
            probe=self._cuda_probe,
        )
        self._set_device_use(session_device(session))
        try:
            kokoro = Kokoro.from_session(session, str(self._voices_path()))
        except (OSError, ValueError, RuntimeError) as exc:
            reason = f"kokoro-onnx cannot start: {exc}"
            raise BackendUnavailableError(_KIND, _NAME, reason, install=_INSTALL) from exc
        _close_npz(kokoro)  # dubkit keeps its own copy of the styles
        # phonemizer warns on every line whose word count espeak-ng changes (numbers read out, ...):
        # harmless here (words are not separated), and noise in a dub's log.
        logging.getLogger("phonemizer").setLevel(logging.ERROR)
        self._styles = styles
        self._kokoro = kokoro

    def _close(self) -> None:
        self._kokoro = None
        self._styles = {}

    def _read_styles(self) -> dict[str, npt.NDArray[np.float32]]:
        path = self._voices_path()
        try:
            with np.load(path, allow_pickle=False) as data:
                styles = {name: np.asarray(data[name], dtype=np.float32) for name in data.files}
        except (OSError, ValueError, EOFError) as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot read the voices file {path}: {exc}", install=_INSTALL
            ) from exc
        bad = [name for name, style in styles.items() if style.ndim != 3 or style.shape[-1] != 256]
        if not styles or bad:
            reason = f"{path} holds no Kokoro style vectors (n x 1 x 256): {bad[:3]}"
            raise BackendUnavailableError(_KIND, _NAME, reason, install=_INSTALL)
        self._names = tuple(styles)
        return styles

    # --- languages and voices --------------------------------------------------------------------

    def languages(self) -> Collection[str]:
        """The languages Kokoro-82M speaks: en, es, fr, it, pt, hi, ja, zh."""
        return frozenset(KOKORO_LANGUAGES)

    def voice_names(self) -> tuple[str, ...]:
        """The named voices in the voices file (read without loading the model).

        Raises:
            BackendUnavailableError: the voices file cannot be read.
        """
        with self._lock:
            if self._names is None:
                path = self._voices_path()
                try:
                    with np.load(path, allow_pickle=False) as data:
                        self._names = tuple(data.files)
                except (OSError, ValueError, EOFError) as exc:
                    raise BackendUnavailableError(
                        _KIND, _NAME, f"cannot read the voices file {path}: {exc}", install=_INSTALL
                    ) from exc
            return self._names

    def voices(self, language: str) -> Sequence[Voice]:
        """The named voices (those made for ``language`` first), then blends of them.

        Raises:
            BackendUnavailableError: the voices file cannot be read.
        """
        return voice_pool(self.voice_names(), language, blends=self.options.blends)

    def _style(self, voice_id: str) -> npt.NDArray[np.float32]:
        try:
            parts = parse_voice_id(voice_id)
        except ValueError as exc:
            raise ConfigError(f"{voice_id!r} is not a Kokoro voice: {exc}", field="voice") from exc
        missing = [p.name for p in parts if p.name not in self._styles]
        if missing:
            raise ConfigError(
                f"Kokoro voice {missing[0]!r} is not in {self._voices_path().name}",
                field="voice",
                hint=f"voices: {', '.join(sorted(self._styles))}",
            )
        if len(parts) == 1:
            return self._styles[parts[0].name]
        blend: npt.NDArray[np.float32] = np.sum(
            [p.weight * self._styles[p.name] for p in parts], axis=0, dtype=np.float32
        )
        return blend

    # --- the capability --------------------------------------------------------------------------

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Speak ``text`` in ``voice.language`` with ``voice`` at ``voice.rate`` into a 24 kHz WAV.

        Raises:
            UnspeakableTextError: nothing speakable in ``text`` (empty, symbols only, no phoneme the
                model knows), or ``voice.language`` is not one Kokoro speaks.
            ConfigError: ``voice.id`` names a voice the voices file lacks.
            BackendUnavailableError: the weights are missing or corrupt.
            BackendRuntimeError: the model failed.
        """
        espeak_language = KOKORO_LANGUAGES.get(voice.language)
        if espeak_language is None:
            raise UnspeakableTextError(text, voice.language, "language", kind=_KIND, name=_NAME)
        spoken = clean_text(text)
        if not has_words(spoken):
            raise UnspeakableTextError(text, voice.language, "empty", kind=_KIND, name=_NAME)
        self.load()
        style = self._style(voice.id)
        kokoro = self._kokoro
        phonemes = kokoro.tokenizer.phonemize(spoken, espeak_language)
        if not kokoro.tokenizer.tokenize(phonemes, limit=None):
            raise UnspeakableTextError(text, voice.language, "no_phonemes", kind=_KIND, name=_NAME)
        speed = min(_MAX_SPEED, max(_MIN_SPEED, voice.rate))
        try:
            samples, rate = kokoro.create(phonemes, voice=style, speed=speed, is_phonemes=True)
        except ValueError as exc:
            raise UnspeakableTextError(
                text, voice.language, "no_phonemes", kind=_KIND, name=_NAME, detail=str(exc)
            ) from exc
        except Exception as exc:  # onnxruntime's own error types
            raise BackendRuntimeError(
                f"Kokoro failed on {text[:80]!r}: {type(exc).__name__}: {exc}",
                kind=_KIND,
                name=_NAME,
                unit=out_path.name,
            ) from exc
        return write_pcm16(out_path, np.asarray(samples, dtype=np.float32), int(rate))


def _close_npz(kokoro: Any) -> None:
    """Close the style file kokoro-onnx opened (an open ``NpzFile``) and drop its reference."""
    held = getattr(kokoro, "voices", None)
    close = getattr(held, "close", None)
    if callable(close):
        close()
    kokoro.voices = {}
