"""The backend contract: one small protocol per capability.

A backend is a class with a cheap constructor taking one typed options object, ``load()`` for weights
(heavy imports happen there, never at module import), ``close()`` to free them, and context-manager
support. Each capability has exactly one required method:

| kind          | entry-point group      | required method                                    |
|---------------|------------------------|----------------------------------------------------|
| separator     | ``dubkit.separators``  | ``separate(audio, out_dir) -> Stems``               |
| vad           | ``dubkit.vad``         | ``detect(audio) -> Sequence[SpeechRegion]``         |
| diarizer      | ``dubkit.diarizers``   | ``diarize(audio, regions) -> Sequence[SpeakerTurn]``|
| transcriber   | ``dubkit.transcribers``| ``transcribe(audio, regions, language) -> Transcript`` |
| translator    | ``dubkit.translators`` | ``translate(texts, source, target, n_best) -> candidates``|
| synthesizer   | ``dubkit.synthesizers``| ``synthesize(text, voice, out_path) -> AudioFile``  |

Optional hooks a backend may add, read through the helpers at the bottom of this module:
``languages()`` (transcriber, synthesizer), ``language_pairs()`` (translator), ``voices(language)``
(synthesizer). The easiest way to satisfy a protocol is to subclass the matching ``Base*`` class
from `dubkit.backends.base`.

Optional protocols a backend may also satisfy, which its stage detects (a plugin written for the
required method alone keeps working): `StreamingVAD`, `LinkableDiarizer`, `ResumableSeparator`,
`ContextualTranslator` (translates sentences with their neighbours as context), `SpeechTranslator`
(translates the speech itself, given the audio) and `TranscriberBorrower` (shares the pipeline
transcriber's model). Some let a stage hand a long call a ``progress`` callback, which reports how far
the call got and raises `dubkit.errors.CancelledError` when the run is cancelled, so the run stops inside
the call: `StreamingVAD`, `ReportingTranscriber`, `ReportingSeparator`. A backend without them is called
as before and stops between its calls. A backend with a ``device`` option may be a `DeviceBackend`:
the pipeline checks its device before any work and records where it ran in the dub project.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
from typing_extensions import Self

from dubkit.backends.devices import DeviceUse
from dubkit.backends.kinds import BackendKind
from dubkit.models.media import AudioFile, Stems
from dubkit.models.speech import ChunkDiarization, SpeakerTurn, SpeechRegion, Transcript, Voice
from dubkit.models.translation import TranslationUnit

__all__ = [
    "PLUGIN_API_VERSION",
    "Backend",
    "BackendKind",
    "ContextualTranslator",
    "DeviceBackend",
    "Diarizer",
    "LinkableDiarizer",
    "ReportingSeparator",
    "ReportingTranscriber",
    "ResumableSeparator",
    "Separator",
    "SpeechTranslator",
    "StreamingVAD",
    "Synthesizer",
    "Transcriber",
    "TranscriberBorrower",
    "TranslationCandidate",
    "TranslationUnit",
    "Translator",
    "VoiceActivityDetector",
    "protocol_for",
    "required_method",
    "supported_languages",
    "supported_pairs",
    "synthesizer_voices",
]

PLUGIN_API_VERSION = 1
"""The plugin API version this dubkit implements.

A backend declares the version it was written for as the class attribute ``plugin_api``; a mismatch
fails at load with BackendValidationError."""


@attrs.frozen(slots=True)
class TranslationCandidate:
    """A translation with the source words the translator could not translate."""

    text: str
    untranslated: tuple[str, ...] = ()


@runtime_checkable
class Backend(Protocol):
    """What every backend provides, whatever its capability."""

    plugin_api: ClassVar[int]

    def load(self) -> None:
        """Load weights and heavy libraries; idempotent."""

    def close(self) -> None:
        """Free what ``load()`` took; idempotent."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@runtime_checkable
class DeviceBackend(Backend, Protocol):
    """A backend that runs on a device it chooses (optional; see `dubkit.backends.devices`)."""

    def check_device(self) -> None:
        """Raise a `dubkit.errors.ConfigError` when the device asked for cannot be used here.

        Called before any work; it must not load weights.
        """
        ...

    def device_use(self) -> DeviceUse | None:
        """Where the backend ran since it was last loaded (with notes on changes); ``None`` before."""
        ...


@runtime_checkable
class Separator(Backend, Protocol):
    """Splits audio into a voice stem and a background stem."""

    def separate(self, audio: AudioFile, out_dir: Path) -> Stems:
        """Write the stems into ``out_dir`` and describe them."""
        ...


@runtime_checkable
class ResumableSeparator(Separator, Protocol):
    """A separator that keeps checkpoints while it works (optional).

    The separate stage gives it a folder that outlives a crashed attempt: a run killed half way through
    a long separation resumes after the last chunk it finished rather than from the start.
    """

    def separate_resumably(self, audio: AudioFile, out_dir: Path, checkpoint_dir: Path) -> Stems:
        """`Separator.separate`, keeping in ``checkpoint_dir`` what a later call needs to resume."""
        ...


@runtime_checkable
class ReportingSeparator(Separator, Protocol):
    """A separator that reports as it goes, so a cancelled run stops inside a separation (optional).

    The separate stage calls `separate_reporting` instead of `Separator.separate` (and instead of
    `ResumableSeparator.separate_resumably`: it passes ``checkpoint_dir`` when the separator is also
    resumable).
    """

    def separate_reporting(
        self,
        audio: AudioFile,
        out_dir: Path,
        progress: Callable[[float], None],
        checkpoint_dir: Path | None = None,
    ) -> Stems:
        """`Separator.separate`, calling ``progress`` with the fraction done between units of its own work.

        Call it often (between the model's windows or segments, at least every second or two of work).
        ``progress`` may raise (`dubkit.errors.CancelledError` when the run is cancelled): clean up what
        `Separator.separate` would not leave behind, keep what ``checkpoint_dir`` needs, and let it through.
        With ``checkpoint_dir``, keep checkpoints there as `ResumableSeparator.separate_resumably` does.
        """
        ...


@runtime_checkable
class VoiceActivityDetector(Backend, Protocol):
    """Finds the stretches of audio that hold speech."""

    def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
        """Speech regions of a 16 kHz mono file, in time order."""
        ...


@runtime_checkable
class StreamingVAD(VoiceActivityDetector, Protocol):
    """A detector that reads whole files itself in bounded memory, its state carried through (optional).

    The vad stage hands it the whole track rather than cutting it into chunks (a cut restarts a
    stateful detector's state, which can move regions tens of seconds later), and passes on its
    progress.
    """

    def detect_streaming(self, audio: AudioFile, progress: Callable[[float], None]) -> Sequence[SpeechRegion]:
        """`VoiceActivityDetector.detect`, calling ``progress`` with the fraction read as it goes.

        ``progress`` may raise (`dubkit.errors.CancelledError` when the run is cancelled): let it through.
        """
        ...


@runtime_checkable
class Diarizer(Backend, Protocol):
    """Says who speaks when."""

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        """Speaker turns within ``regions`` of a 16 kHz mono file, in time order."""
        ...


@runtime_checkable
class LinkableDiarizer(Diarizer, Protocol):
    """A diarizer that can work chunk by chunk, describing each chunk's voices.

    The diarize stage links the chunks' voices into one set of speakers. Optional: a plain `Diarizer`
    diarizes the whole input in one call.
    """

    @property
    def link_distance(self) -> float:
        """Average cosine distance between two voice profiles under which they are one speaker."""
        ...

    @property
    def speaker_limit(self) -> int | None:
        """The most speakers the whole input may have (a given speaker count), or ``None``."""
        ...

    def diarize_chunk(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> ChunkDiarization:
        """Speaker turns within ``regions`` (labels local to this call) and a voice profile per label."""
        ...


@runtime_checkable
class Transcriber(Backend, Protocol):
    """Turns speech into timed text."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        """Transcribe only ``regions`` of a 16 kHz mono file.

        Args:
            audio: The analysis track.
            regions: Where speech is; times in the result are relative to the whole file.
            language: ISO 639-1 code, or ``None`` to detect it.
        """
        ...


@runtime_checkable
class ReportingTranscriber(Transcriber, Protocol):
    """A transcriber that reports as it decodes, so a cancelled run stops inside a call (optional).

    The transcribe stage calls `transcribe_reporting` instead of `Transcriber.transcribe`.
    """

    def transcribe_reporting(
        self,
        audio: AudioFile,
        regions: Sequence[SpeechRegion],
        language: str | None,
        progress: Callable[[float], None],
    ) -> Transcript:
        """`Transcriber.transcribe`, calling ``progress`` with the fraction of the speech decoded so far.

        Call it between decoded segments or windows (at least every second or two of work).
        ``progress`` may raise (`dubkit.errors.CancelledError` when the run is cancelled): let it through.
        """
        ...


@runtime_checkable
class Translator(Backend, Protocol):
    """Translates lines of text."""

    def translate(
        self, texts: Sequence[str], source: str, target: str, n_best: int
    ) -> Sequence[Sequence[str | TranslationCandidate]]:
        """For each text, up to ``n_best`` candidate translations, best first (at least one).

        A candidate is a plain string, or a `TranslationCandidate` when the translator can say
        which words it left untranslated.
        """
        ...


Candidates = Sequence[Sequence[str | TranslationCandidate]]
"""For each text (or unit), up to ``n_best`` candidate translations, best first (at least one)."""


@runtime_checkable
class ContextualTranslator(Translator, Protocol):
    """A translator that can use the sentences around each one (optional).

    The translate stage gives it whole sentences (`TranslationUnit`) with their neighbours, rather
    than plain texts; a translator that cannot use context needs only `Translator.translate`.
    """

    def translate_units(
        self, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
    ) -> Candidates:
        """`Translator.translate` of each unit's ``text``, using its ``context`` as the translator can."""
        ...


@runtime_checkable
class SpeechTranslator(Translator, Protocol):
    """A translator that translates the speech itself rather than its transcript (optional).

    The translate stage gives it the analysis track (16 kHz mono WAV) and the units with the times
    they are spoken at (`TranslationUnit.spans`). Its ``translate`` of plain texts may refuse with
    `dubkit.errors.BackendRuntimeError` when it cannot work without the audio.
    """

    def translate_speech(
        self, audio: AudioFile, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
    ) -> Candidates:
        """For each unit, candidate translations of what is said in its spans of ``audio``."""
        ...


@runtime_checkable
class TranscriberBorrower(Protocol):
    """A backend that can use the pipeline transcriber's loaded model instead of loading its own (optional).

    `dubkit.pipeline.build.build_pipeline` offers it the transcriber before any work.
    """

    def borrow_transcriber(self, transcriber: object) -> bool:
        """Use ``transcriber``'s model when it is one this backend can use; return whether it will."""
        ...


@runtime_checkable
class Synthesizer(Backend, Protocol):
    """Speaks text with a voice."""

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Write ``text`` spoken by ``voice`` to the WAV file ``out_path``."""
        ...


_PROTOCOLS: dict[BackendKind, tuple[type[Any], str]] = {
    BackendKind.SEPARATOR: (Separator, "separate"),
    BackendKind.VAD: (VoiceActivityDetector, "detect"),
    BackendKind.DIARIZER: (Diarizer, "diarize"),
    BackendKind.TRANSCRIBER: (Transcriber, "transcribe"),
    BackendKind.TRANSLATOR: (Translator, "translate"),
    BackendKind.SYNTHESIZER: (Synthesizer, "synthesize"),
}


def protocol_for(kind: BackendKind) -> type[Any]:
    """The protocol class a backend of ``kind`` must satisfy."""
    return _PROTOCOLS[kind][0]


def required_method(kind: BackendKind) -> str:
    """The name of the one capability method a backend of ``kind`` must have."""
    return _PROTOCOLS[kind][1]


def supported_languages(backend: object) -> Collection[str] | None:
    """The ISO 639-1 codes a transcriber or synthesizer supports; ``None`` means it does not say."""
    hook = getattr(backend, "languages", None)
    return None if hook is None else hook()


def supported_pairs(backend: object) -> Collection[tuple[str, str]] | None:
    """The (source, target) pairs a translator supports; ``None`` means it does not say."""
    hook = getattr(backend, "language_pairs", None)
    return None if hook is None else hook()


def synthesizer_voices(backend: object, language: str) -> Sequence[Voice]:
    """Distinct voices a synthesizer offers for ``language``, best first; empty when it does not say."""
    hook = getattr(backend, "voices", None)
    return () if hook is None else hook(language)
