"""The ``mms`` synthesizer: Meta's MMS-TTS voices (VITS) through transformers.

One model per language: ``facebook/mms-tts-<iso639_3>`` from the Hugging Face hub (``mms-tts-spa``
for ``es``), or a local directory saved with ``save_pretrained`` (model and tokenizer) named in the
``models`` option. Models load on first use of their language and stay loaded until ``close()``.
Clips are written as 16-bit mono WAV at the model's sampling rate; ``Voice.rate`` becomes VITS's
``speaking_rate``. VITS samples noise, so a ``seed`` makes every clip reproducible.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dubkit.backends.base import BaseSynthesizer
from dubkit.backends.devices import CudaProbe, DeviceBackendMixin, check_device_option
from dubkit.backends.wav import write_pcm16
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, UnknownLanguageError
from dubkit.models.languages import get_language, language_codes
from dubkit.models.media import AudioFile
from dubkit.models.speech import Voice

__all__ = ["MMSSynthesizer"]

_KIND, _NAME = "synthesizer", "mms"
_INSTALL = "pip install 'dubkit[mms]'"


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType({str(k): str(v) for k, v in dict(value).items()})


class MMSSynthesizer(DeviceBackendMixin, BaseSynthesizer["MMSSynthesizer.Options"]):
    """MMS-TTS (VITS) voices, one model per language (float32 on any device)."""

    runtime = "torch"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            models: Language (ISO 639-1) -> model name or local directory; overrides ``model_template``.
            model_template: Model name for other languages, formatted with ``iso639_3`` (and ``code``);
                ``None`` limits the synthesizer to the languages in ``models``.
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:1``.
            seed: Seed of the noise VITS samples (per clip, so a clip does not depend on the ones before);
                ``None`` leaves torch's global generator alone and clips vary between runs.
            noise_scale: Override of the model's ``noise_scale`` (variation of the voice), or ``None``.
            local_files_only: Never contact the hub.
            cache_dir: Where hub downloads are cached.
        """

        models: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
        model_template: str | None = "facebook/mms-tts-{iso639_3}"
        device: str = attrs.field(default="auto", validator=check_device_option)
        seed: int | None = 0
        noise_scale: float | None = None
        local_files_only: bool = False
        cache_dir: str | None = None

    _torch: Any = None
    _transformers: Any = None
    _device: str = "cpu"

    def __init__(
        self, options: MMSSynthesizer.Options | None = None, *, cuda_probe: CudaProbe | None = None
    ) -> None:
        super().__init__(options, cuda_probe=cuda_probe)
        self._voices: dict[str, tuple[Any, Any]] = {}

    def _model_ref(self, language: str) -> str:
        """The model name or directory for an ISO 639-1 code.

        Raises:
            UnknownLanguageError: no model is configured for it.
        """
        opts = self.options
        if language in opts.models:
            return opts.models[language]
        if opts.model_template is not None:
            lang = get_language(language)
            return opts.model_template.format(iso639_3=lang.iso639_3, code=lang.code)
        raise UnknownLanguageError(language, sorted(opts.models), backend=_NAME)

    def languages(self) -> Collection[str] | None:
        """The languages in ``models``, plus every language dubkit knows when a template is set."""
        codes = set(self.options.models)
        if self.options.model_template is not None:
            codes.update(language_codes())
        return frozenset(codes)

    def voices(self, language: str) -> Sequence[Voice]:
        """One voice per language (MMS models have a single speaker); its id is the model."""
        return (Voice(id=self._model_ref(language), language=language, label=f"MMS-TTS {language}"),)

    def _load(self) -> None:
        try:
            import torch  # noqa: TID251
            import transformers
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import transformers/torch: {exc}", install=_INSTALL
            ) from exc
        self._torch, self._transformers = torch, transformers
        self._device = self._resolve_device()
        self._set_device_use(self._device, "float32")

    def _close(self) -> None:
        self._voices.clear()
        self._torch = None
        self._transformers = None

    def _voice_model(self, language: str) -> tuple[Any, Any]:
        """(tokenizer, model) for a language, loaded on first use."""
        with self._lock:
            if language in self._voices:
                return self._voices[language]
            ref = self._model_ref(language)
            opts = self.options
            tf = self._transformers
            where = {"local_files_only": opts.local_files_only, "cache_dir": opts.cache_dir}
            try:
                tokenizer = tf.AutoTokenizer.from_pretrained(ref, **where)
                model = tf.VitsModel.from_pretrained(ref, **where)
            except (OSError, ValueError) as exc:
                raise BackendUnavailableError(
                    _KIND,
                    _NAME,
                    f"cannot load MMS-TTS model {ref!r} for {language!r} ({exc}); name a model the hub can "
                    "serve, or map the language to a local directory in the models option",
                ) from exc
            model.to(self._device)
            model.eval()
            if opts.noise_scale is not None:
                model.noise_scale = opts.noise_scale
            self._voices[language] = (tokenizer, model)
            return tokenizer, model

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Speak ``text`` in ``voice.language`` at ``voice.rate`` into a 16-bit mono WAV.

        The model is chosen by ``voice.language`` through the options (``voice.id`` is informative).

        Raises:
            UnknownLanguageError: no model is configured for the voice's language.
            BackendUnavailableError: the model cannot be loaded (offline, or missing ``uroman`` for a
                model that needs romanised input).
            BackendRuntimeError: nothing in ``text`` can be spoken by this model, or synthesis failed.
        """
        self.load()
        tokenizer, model = self._voice_model(voice.language)
        torch = self._torch
        spoken = self._romanise(text, voice.language) if getattr(tokenizer, "is_uroman", False) else text
        inputs = tokenizer(spoken, return_tensors="pt")
        if inputs["input_ids"].shape[-1] == 0 or not spoken.strip():
            raise BackendRuntimeError(
                f"nothing to speak in {text!r} for the {voice.language!r} model",
                kind=_KIND,
                name=_NAME,
                unit=out_path.name,
            )
        inputs = {k: v.to(self._device) for k, v in inputs.items()}
        rate = voice.rate if voice.rate > 0 else 1.0
        try:
            with torch.random.fork_rng(devices=[]), torch.inference_mode():
                if self.options.seed is not None:
                    torch.manual_seed(self.options.seed)
                waveform = model(**inputs, speaking_rate=rate).waveform
        except (RuntimeError, ValueError, IndexError) as exc:
            raise BackendRuntimeError(
                f"MMS-TTS failed on {text!r}: {exc}", kind=_KIND, name=_NAME, unit=out_path.name
            ) from exc
        samples = waveform[0].float().cpu().numpy().astype(np.float32)
        return write_pcm16(out_path, samples, int(model.config.sampling_rate))

    def _romanise(self, text: str, language: str) -> str:
        try:
            uroman = importlib.import_module("uroman")  # romaniser some MMS models expect
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"the {language!r} MMS model expects romanised text and uroman is not installed",
                install="pip install uroman",
            ) from exc
        return str(uroman.Uroman().romanize_string(text, lcode=get_language(language).iso639_3))
