"""Stage 7, translate: every transcript segment into the target language, with n-best candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import TranslationCandidate, Translator, supported_pairs
from dubkit.errors import UnsupportedLanguagePairError
from dubkit.models.speech import TranscriptSegment, TranslatedSegment, Translation
from dubkit.pipeline.cache import stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["TranslateStage"]


@attrs.frozen
class _Cached:
    candidates: tuple[TranslationCandidate, ...]


def _normalise(raw: Sequence[str | TranslationCandidate]) -> tuple[TranslationCandidate, ...]:
    out = tuple(c if isinstance(c, TranslationCandidate) else TranslationCandidate(str(c)) for c in raw)
    return tuple(c for c in out if c.text.strip()) or (TranslationCandidate(""),)


_DEFAULT_BATCH = 32


def _batch_lines(translator: object) -> int:
    """The lines a translator prefers per call: its ``batch_lines`` attribute, else 32."""
    value = getattr(translator, "batch_lines", _DEFAULT_BATCH)
    return value if isinstance(value, int) and value > 0 else _DEFAULT_BATCH


class TranslateStage(BaseStage[Translation]):
    """Translates in batches; each line's result is cached, so an edit or a new line costs only itself.

    Args:
        translator: The translator.
        n_best: Candidates to ask for per line (the timing solver may pick a shorter one).
        batch_size: Lines per translator call; ``None``: the translator's ``batch_lines`` (an optional
            attribute: Apertium starts a process per call, so it takes many lines at once), else 32.
    """

    name = "translate"
    inputs = (TRANSCRIPT,)
    output = TRANSLATION

    def __init__(
        self, translator: BackendBinding[Translator], *, n_best: int = 1, batch_size: int | None = None
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.translator = translator
        self.n_best = n_best
        self.batch_size = batch_size or _batch_lines(translator.instance)

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """Translator identity, target language, n-best and the human edits."""
        return {
            "backend": self.translator.fingerprint(),
            "target": request.target_language,
            "source": request.source_language,
            "n_best": self.n_best,
            "edits": [list(e) for e in request.translation_edits],
        }

    def validate(self, request: RunRequest) -> None:
        """The pair must be supported (when the source language is given), or the target reachable.

        Raises:
            UnsupportedLanguagePairError: the translator cannot do it.
        """
        self._check_pair(request.source_language, request.target_language)

    def _check_pair(self, source: str | None, target: str) -> None:
        if source == target:
            return
        pairs = supported_pairs(self.translator.instance)
        if pairs is None:
            return
        ok = (source, target) in pairs if source is not None else any(t == target for _, t in pairs)
        if not ok:
            raise UnsupportedLanguagePairError(
                source or "auto", target, self.translator.name, [f"{s}-{t}" for s, t in pairs]
            )

    def run(self, ctx: StageContext, inputs: Artifacts) -> Translation:
        """Translate uncached lines in batches, then apply human edits."""
        transcript = inputs[TRANSCRIPT]
        source, target = transcript.language, ctx.request.target_language
        segments = list(transcript.segments)
        results: dict[str, tuple[TranslationCandidate, ...]] = {}
        if segments and source != target:
            self._check_pair(source, target)
            self._translate_all(ctx, segments, source, target, results)
        elif segments:
            results = {s.id: (TranslationCandidate(s.text),) for s in segments}
        edits = dict(ctx.request.translation_edits)
        out = []
        for seg in segments:
            candidates = results.get(seg.id)
            if candidates is None:
                continue
            machine = candidates[0].text
            text = edits.get(seg.id, machine)
            out.append(
                TranslatedSegment(
                    segment_id=seg.id,
                    text=text,
                    candidates=tuple(c.text for c in candidates),
                    machine_text=machine,
                    untranslated=candidates[0].untranslated,
                    edited=seg.id in edits,
                )
            )
        return Translation(
            source_language=source, target_language=target, segments=tuple(out), issues=tuple(ctx.issues)
        )

    def _unit_key(self, text: str, source: str, target: str) -> str:
        return stable_hash(
            {"t": self.translator.fingerprint(), "s": source, "g": target, "n": self.n_best, "x": text}
        )

    def _translate_all(
        self,
        ctx: StageContext,
        segments: list[TranscriptSegment],
        source: str,
        target: str,
        results: dict[str, tuple[TranslationCandidate, ...]],
    ) -> None:
        cache = ctx.units()
        pending: list[TranscriptSegment] = []
        for seg in segments:
            hit = cache.get(self._unit_key(seg.text, source, target), _Cached)
            if hit is not None:
                results[seg.id] = hit.candidates
            else:
                pending.append(seg)
        batches = [pending[i : i + self.batch_size] for i in range(0, len(pending), self.batch_size)]
        backend = self.translator.get() if pending else None
        for batch in ctx.each(batches, label="batch"):
            assert backend is not None
            texts = [s.text for s in batch]
            known_issues = len(ctx.issues)
            got = ctx.attempt(
                f"{batch[0].id}..{batch[-1].id}",
                partial(backend.translate, texts, source, target, self.n_best),
            )
            if got is not None and len(got) == len(batch):
                for seg, raw in zip(batch, got, strict=True):
                    results[seg.id] = _normalise(raw)
                    cache.put(self._unit_key(seg.text, source, target), _Cached(results[seg.id]))
                continue
            del ctx.issues[known_issues:]  # the batch failed as a whole: retry line by line to isolate it
            for seg in batch:
                one = ctx.attempt(seg.id, partial(backend.translate, [seg.text], source, target, self.n_best))
                if one:
                    results[seg.id] = _normalise(one[0])
                    cache.put(self._unit_key(seg.text, source, target), _Cached(results[seg.id]))

    def close(self) -> None:
        """Free the translator."""
        self.translator.close()
