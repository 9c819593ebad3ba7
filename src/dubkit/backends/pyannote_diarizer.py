"""The ``pyannote`` diarizer: a pyannote.audio speaker-diarization pipeline.

The pipeline loads from a local directory holding its ``config.yaml`` (and the models it names, such
as ``$model/segmentation``), from a path to that ``config.yaml``, or by name from the Hugging Face
hub (``pyannote/speaker-diarization-community-1``, a gated model: accept its terms on the hub and pass
a token, or log in with ``hf auth login``). The audio is decoded here and passed in memory
(``{"waveform": tensor, "sample_rate": rate}``), so pyannote's own file decoding (torchcodec) is never
needed. pyannote.audio's usage telemetry is switched off unless the ``telemetry`` option asks for it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import numpy as np

from dubkit.backends.base import BaseDiarizer
from dubkit.backends.devices import DeviceBackendMixin, check_device_option
from dubkit.backends.wav import read_wav_mono
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeakerTurn, SpeechRegion

__all__ = ["PyannoteDiarizer"]

_KIND, _NAME = "diarizer", "pyannote"
_INSTALL = "pip install 'dubkit[pyannote]'"


@contextmanager
def _quiet_import() -> Iterator[None]:
    """pyannote.audio warns at import when torchcodec is missing; dubkit never lets it decode files."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, message=r"\s*torchcodec is not installed")
        yield


def _label_map(labels: Sequence[str]) -> dict[str, str]:
    """Map pyannote labels to ``SPEAKER_00``, ``SPEAKER_01``, ... in order of first appearance."""
    return {label: f"SPEAKER_{i:02d}" for i, label in enumerate(dict.fromkeys(labels))}


def _clip_to_regions(
    turns: Sequence[tuple[float, float, str]], regions: Sequence[SpeechRegion], fill: bool
) -> list[SpeakerTurn]:
    """Intersect turns with regions; with ``fill``, uncovered parts of regions go to the nearest speaker."""
    out: list[SpeakerTurn] = []
    for region in sorted(regions, key=lambda r: r.start):
        inside = sorted(
            (max(s, region.start), min(e, region.end), spk)
            for s, e, spk in turns
            if s < region.end and e > region.start
        )
        if fill and turns:
            cursor = region.start
            filled: list[tuple[float, float, str]] = []
            for s, e, spk in inside:
                if s > cursor:
                    filled.append((cursor, s, _nearest(turns, (cursor + s) / 2)))
                filled.append((s, e, spk))
                cursor = max(cursor, e)
            if cursor < region.end:
                filled.append((cursor, region.end, _nearest(turns, (cursor + region.end) / 2)))
            inside = filled
        out.extend(SpeakerTurn(s, e, spk) for s, e, spk in inside if e > s)
    out.sort(key=lambda t: (t.start, t.end))
    return out


def _nearest(turns: Sequence[tuple[float, float, str]], t: float) -> str:
    def distance(turn: tuple[float, float, str]) -> float:
        s, e, _ = turn
        return 0.0 if s <= t <= e else min(abs(t - s), abs(t - e))

    return min(turns, key=distance)[2]


class PyannoteDiarizer(DeviceBackendMixin, BaseDiarizer["PyannoteDiarizer.Options"]):
    """Who speaks when, by a pyannote.audio pipeline run on the whole analysis track."""

    runtime = "torch"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            pipeline: A local directory holding ``config.yaml``, a path to such a file, or a pipeline
                name on the Hugging Face hub.
            token: Hugging Face token for gated hub pipelines (``None``: huggingface_hub's own login).
                Kept out of the options' repr.
            cache_dir: Where hub downloads are cached.
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:1``.
            num_speakers: The exact number of speakers, when known.
            min_speakers: A lower bound on the number of speakers.
            max_speakers: An upper bound on the number of speakers.
            fill_gaps: Give parts of speech regions that the pipeline left unlabelled to the nearest
                speaker, so every region is covered.
            telemetry: Let pyannote.audio send its usage metrics (off by default; it is process-wide).
        """

        pipeline: str = "pyannote/speaker-diarization-community-1"
        token: str | None = attrs.field(default=None, repr=False)
        cache_dir: str | None = None
        device: str = attrs.field(default="auto", validator=check_device_option)
        num_speakers: int | None = None
        min_speakers: int | None = None
        max_speakers: int | None = None
        fill_gaps: bool = True
        telemetry: bool = False

        def __attrs_post_init__(self) -> None:
            for field in ("num_speakers", "min_speakers", "max_speakers"):
                value = getattr(self, field)
                if value is not None and value < 1:
                    raise ConfigError(f"{field} must be at least 1, got {value}", field=field)
            if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
                raise ConfigError("min_speakers is over max_speakers", field="min_speakers")

    _pipeline: Any = None
    _torch: Any = None

    def _load(self) -> None:
        try:
            import torch  # noqa: TID251

            with _quiet_import():
                from pyannote.audio import Pipeline
                from pyannote.audio.telemetry import set_telemetry_metrics
        except (ImportError, OSError) as exc:  # OSError: a torchaudio whose native library does not load
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import pyannote.audio: {exc}", install=_INSTALL
            ) from exc
        opts = self.options
        set_telemetry_metrics(opts.telemetry)
        try:
            pipeline = Pipeline.from_pretrained(opts.pipeline, token=opts.token, cache_dir=opts.cache_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"cannot load pyannote pipeline {opts.pipeline!r} ({type(exc).__name__}: {exc}); name a hub "
                "pipeline (with a token where it is gated) or a local directory holding its config.yaml",
            ) from exc
        if pipeline is None:
            raise BackendUnavailableError(_KIND, _NAME, f"pyannote pipeline {opts.pipeline!r} was not found")
        device = self._resolve_device()
        pipeline.to(torch.device(device))
        self._set_device_use(device, "float32")
        self._torch, self._pipeline = torch, pipeline

    def _close(self) -> None:
        self._pipeline = None
        self._torch = None

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        """Run the pipeline on the whole file, then keep the turns inside ``regions``.

        Running on the whole file (not region by region) keeps speaker labels consistent across it.

        Raises:
            BackendRuntimeError: the pipeline failed on this file.
        """
        self.load()
        if not regions:
            return []
        rate, samples = read_wav_mono(audio.path)
        if samples.size == 0:
            return []
        opts = self.options
        waveform = self._torch.from_numpy(np.ascontiguousarray(samples))[None]
        kwargs = {
            k: v
            for k, v in (
                ("num_speakers", opts.num_speakers),
                ("min_speakers", opts.min_speakers),
                ("max_speakers", opts.max_speakers),
            )
            if v is not None
        }
        try:
            output = self._pipeline({"waveform": waveform, "sample_rate": rate}, **kwargs)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise BackendRuntimeError(
                f"pyannote failed on {audio.path.name}: {exc}", kind=_KIND, name=_NAME, unit=audio.path.name
            ) from exc
        # pyannote.audio 4 returns a DiarizeOutput; 3.x returned the Annotation itself.
        annotation = getattr(output, "speaker_diarization", output)
        raw = [
            (float(seg.start), float(seg.end), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ]
        raw.sort()
        names = _label_map([label for _, _, label in raw])
        turns = [(s, e, names[label]) for s, e, label in raw if e > s]
        return _clip_to_regions(turns, regions, opts.fill_gaps)
