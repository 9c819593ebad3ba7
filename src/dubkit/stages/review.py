"""Optional stage, review: transcribe the synthesised lines back and score them (word error rate).

The chosen clips are laid one after another (with pauses) on a 16 kHz mono track and transcribed in
one call with the run's transcriber in the target language; each line's words are compared with the
text it should say (jiwer). A high back-transcription WER flags a line whose dub is unintelligible or
mispronounced. Runs only when asked (``PipelineConfig(review=True)``): it costs a second transcription.
Each line's score is cached by its clip and text, so after an edit only the edited line is heard again.
"""

from __future__ import annotations

import wave
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Transcriber
from dubkit.backends.wav import read_wav_mono
from dubkit.errors import ConfigError
from dubkit.models.media import AudioFile
from dubkit.models.speech import Clip, LineReview, Review, SpeechRegion
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import REVIEW, SYNTHESIS, TIMING, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.mix import chosen_clips

__all__ = ["ReviewStage", "word_error_rate"]

_RATE = 16000
_PAUSE = 0.8


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after lower-casing and removing punctuation (jiwer); 0 for two empty texts.

    Raises:
        ConfigError: jiwer is not installed (``pip install 'dubkit[quality]'``).
    """
    try:
        import jiwer
    except ImportError as exc:
        raise ConfigError("the review stage needs jiwer", hint="pip install 'dubkit[quality]'") from exc
    clean = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),  # type: ignore[no-untyped-call]
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    if not reference.strip():
        return 0.0 if not hypothesis.strip() else 1.0
    return float(jiwer.wer(reference, hypothesis, reference_transform=clean, hypothesis_transform=clean))


def _resample(
    samples: np.ndarray[Any, np.dtype[np.float32]], rate: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    if rate == _RATE or not len(samples):
        return samples
    positions = np.arange(0, len(samples), rate / _RATE)
    resampled: np.ndarray[Any, np.dtype[np.float32]] = np.interp(
        positions, np.arange(len(samples)), samples
    ).astype(np.float32)
    return resampled


class ReviewStage(BaseStage[Review]):
    """Back-transcribes every chosen clip with the run's transcriber and scores it."""

    name = "review"
    inputs = (TRANSLATION, SYNTHESIS, TIMING)
    output = REVIEW

    def __init__(self, transcriber: BackendBinding[Transcriber]) -> None:
        self.transcriber = transcriber

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The transcriber's identity and the target language."""
        return {"backend": self.transcriber.fingerprint(), "target": request.target_language}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Review:
        """Score every chosen clip; only clips not reviewed before are transcribed (in one call)."""
        clips = chosen_clips(inputs[SYNTHESIS], inputs[TIMING])
        target = ctx.request.target_language
        cache = ctx.units()
        keys = [
            stable_hash({"t": self.transcriber.fingerprint(), "l": target, "c": c.path.name, "x": c.text})
            for c in clips
        ]
        done = {k: hit for k in keys if (hit := cache.get(k, LineReview)) is not None}
        pending = [(clip, key) for clip, key in zip(clips, keys, strict=True) if key not in done]
        if pending:
            ctx.progress(0.1, f"transcribing {len(pending)} lines back")
            heard = self._transcribe_back(ctx, [clip for clip, _ in pending], target)
            for (clip, key), text in zip(pending, heard, strict=True):
                review = LineReview(clip.segment_id, text, round(word_error_rate(clip.text, text), 4))
                cache.put(key, review)
                done[key] = review
        lines = tuple(
            attrs.evolve(done[key], segment_id=clip.segment_id) for clip, key in zip(clips, keys, strict=True)
        )
        return Review(language=target, lines=lines)

    def _transcribe_back(self, ctx: StageContext, clips: list[Clip], language: str) -> list[str]:
        """Lay the clips one after another on a 16 kHz track, transcribe it once, split the words back."""
        pieces, regions, cursor = [np.zeros(int(_PAUSE * _RATE), np.float32)], [], _PAUSE
        for clip in clips:
            rate, samples = read_wav_mono(clip.path)
            speech = _resample(samples, rate)
            regions.append(SpeechRegion(cursor, cursor + len(speech) / _RATE))
            pieces += [speech, np.zeros(int(_PAUSE * _RATE), np.float32)]
            cursor += len(speech) / _RATE + _PAUSE
        track = ctx.work_dir / "review.wav"
        pcm = (np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2")
        with wave.open(str(track), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(_RATE)
            out.writeframes(pcm.tobytes())
        audio = AudioFile(path=track, sample_rate=_RATE, channels=1, duration=len(pcm) / _RATE)
        heard = self.transcriber.get().transcribe(audio, regions, language)
        texts: list[list[str]] = [[] for _ in clips]
        centres = [(r.start + r.end) / 2 for r in regions]
        for seg in heard.segments:
            middle = (seg.start + seg.end) / 2
            nearest = min(range(len(regions)), key=lambda i: abs(centres[i] - middle))
            texts[nearest].append(seg.text.strip())
        return [" ".join(t) for t in texts]

    def close(self) -> None:
        """Free the transcriber."""
        self.transcriber.close()
