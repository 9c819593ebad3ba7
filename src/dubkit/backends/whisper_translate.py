"""The ``whisper-translate`` translator: Whisper's own translation of the speech into English.

Whisper's multilingual models can write English for speech in any of their languages (the
``translate`` task): real neural translation, offline, with the model the transcriber already uses
(the Whisper base model that ships in packages, see `dubkit.backends.whisper_model`). It translates
what was *said*, not the transcript: the translate stage hands it the analysis track and each
sentence's times (`dubkit.backends.protocols.SpeechTranslator`), and it decodes the sentences back to
back with `dubkit.backends.faster_whisper.FasterWhisperTranscriber.translate_regions`, giving the
English text back to the sentences by time.

In a pipeline whose transcriber is ``faster-whisper`` with the same model, it uses that transcriber's
loaded model (`dubkit.backends.protocols.TranscriberBorrower`) instead of loading a second copy.
English is its only target; a source language must be one Whisper knows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs

from dubkit.backends.base import BaseTranslator
from dubkit.backends.devices import check_device_option
from dubkit.backends.faster_whisper import FasterWhisperTranscriber
from dubkit.backends.protocols import TranslationCandidate
from dubkit.errors import BackendRuntimeError, ConfigError, UnsupportedLanguagePairError
from dubkit.models.languages import language_codes
from dubkit.models.media import AudioFile
from dubkit.models.translation import TranslationUnit

__all__ = ["WhisperTranslator"]

_NAME = "whisper-translate"
_KIND = "translator"
_TARGET = "en"


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


class WhisperTranslator(BaseTranslator["WhisperTranslator.Options"]):
    """Translates speech into English with Whisper's ``translate`` task (faster-whisper)."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: As `FasterWhisperTranscriber.Options.model`: ``"base"`` (ships offline), a local
                CTranslate2 folder or a hub name. English-only models (``*.en``) cannot translate.
            model_dir: Where the packaged base model is assembled (default: the transcriber's default).
            download_root: Where hub models are cached.
            local_files_only: Never reach the hub for a named model.
            device: ``auto`` (a CUDA GPU when CTranslate2 sees one, else the CPU), ``cpu``, ``cuda`` or
                ``cuda:N``, as the transcriber's (see `dubkit.backends.devices`).
            compute_type: CTranslate2 compute type; ``auto`` is ``float16`` on CUDA, ``int8`` on the CPU.
            beam_size: Beam width of the translation.
            cpu_threads: CPU threads; 0 = every core this process may use.
            gap: Seconds of silence between sentences decoded back to back.
            block_seconds: Sentences are decoded in blocks of at most this many seconds.
        """

        model: str = "base"
        model_dir: Path | None = attrs.field(default=None, converter=_optional_path)
        download_root: Path | None = attrs.field(default=None, converter=_optional_path)
        local_files_only: bool = False
        device: str = attrs.field(default="auto", validator=check_device_option)
        compute_type: str = "auto"
        beam_size: int = attrs.field(default=5, validator=_positive)
        cpu_threads: int = attrs.field(default=0, validator=attrs.validators.ge(0))
        gap: float = attrs.field(default=1.0, validator=_positive)
        block_seconds: float = attrs.field(default=60.0, validator=_positive)

    #: Sentences per call: each call decodes its sentences in shared blocks, so larger is cheaper.
    batch_lines = 64

    _shared: FasterWhisperTranscriber | None = None
    _own: FasterWhisperTranscriber | None = None
    _loaded_shared = False

    def _transcriber_options(self) -> FasterWhisperTranscriber.Options:
        opts = self.options
        return FasterWhisperTranscriber.Options(
            model=opts.model,
            model_dir=opts.model_dir,
            download_root=opts.download_root,
            local_files_only=opts.local_files_only,
            device=opts.device,
            compute_type=opts.compute_type,
            beam_size=opts.beam_size,
            cpu_threads=opts.cpu_threads,
            block_seconds=opts.block_seconds,
        )

    # --- sharing the transcriber's model ----------------------------------------------------------

    def borrow_transcriber(self, transcriber: object) -> bool:
        """Use ``transcriber``'s model when it is a faster-whisper transcriber of the same model.

        The same model means the same model name, folders, device and compute type; a transcriber
        that differs (or another backend) is not borrowed, and this translator loads its own model.
        """
        with self._lock:
            shared = None
            if isinstance(transcriber, FasterWhisperTranscriber):
                theirs, mine = transcriber.options, self._transcriber_options()
                same = ("model", "model_dir", "download_root", "device", "compute_type")
                if all(getattr(theirs, f) == getattr(mine, f) for f in same):
                    shared = transcriber
            self._shared = shared
            return shared is not None

    def _whisper(self) -> FasterWhisperTranscriber:
        self.load()
        whisper = self._shared or self._own
        assert whisper is not None
        return whisper

    def _load(self) -> None:
        if self._shared is not None:
            self._loaded_shared = not self._shared.loaded
            self._shared.load()
        else:
            own = FasterWhisperTranscriber(self._transcriber_options())
            own.load()
            self._own = own

    def _close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
        if self._shared is not None and self._loaded_shared:
            self._shared.close()  # loaded for this translator alone (its stage had freed it): free it again
        self._loaded_shared = False

    # --- languages -------------------------------------------------------------------------------

    def language_pairs(self) -> Collection[tuple[str, str]]:
        """Every language Whisper knows (and dubkit has a code for) into English; none for ``*.en`` models."""
        if self.options.model.endswith(".en"):
            return frozenset()
        whisper = self._shared or self._own or FasterWhisperTranscriber(self._transcriber_options())
        known = set(language_codes())
        return frozenset((s, _TARGET) for s in whisper.languages() if s in known and s != _TARGET)

    # --- the capability --------------------------------------------------------------------------

    def translate(
        self, texts: Sequence[str], source: str, target: str, n_best: int
    ) -> Sequence[Sequence[str | TranslationCandidate]]:
        """Whisper translates speech, not text: an empty text is given back empty, any other refused.

        Raises:
            BackendRuntimeError: a text to translate (this translator needs the audio: use it in a dub).
        """
        if any(text.strip() for text in texts):
            raise BackendRuntimeError(
                "whisper-translate translates speech, not text: it needs the audio (use it in a dub)",
                kind=_KIND,
                name=_NAME,
            )
        return [[""] for _ in texts]

    def translate_speech(
        self, audio: AudioFile, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
    ) -> Sequence[Sequence[str | TranslationCandidate]]:
        """English for what is said in each unit's spans of ``audio`` (one candidate each).

        Raises:
            UnsupportedLanguagePairError: the target is not English or Whisper does not know the source.
            BackendRuntimeError: decoding failed.
        """
        pairs = self.language_pairs()
        if (source, target) not in pairs:
            raise UnsupportedLanguagePairError(source, target, _NAME, [f"{s}-{t}" for s, t in sorted(pairs)])
        texts = self._whisper().translate_regions(
            audio,
            [u.spans for u in units],
            source,
            beam_size=self.options.beam_size,
            gap=self.options.gap,
            block_seconds=self.options.block_seconds,
        )
        return [[TranslationCandidate(text)] for text in texts]
