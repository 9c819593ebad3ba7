"""Stage 7, translate: every sentence of the transcript into the target language, split back into its lines.

The unit of translation is the sentence (`dubkit.stages.sentences.group_sentences`): consecutive
lines of one speaker with no sentence end and only a short pause between them. Each sentence is
translated whole, with the sentences around it as context for translators that can use it
(`dubkit.backends.protocols.ContextualTranslator`) and with its audio for translators that translate
speech (`dubkit.backends.protocols.SpeechTranslator`); its translation is then cut into one piece per
line (`dubkit.stages.sentences.split_translation`). The synthesize stage voices the pieces (and the
whole sentence, which the fit stage may play across the pauses instead).

A sentence the translator fails on is translated line by line; a line that fails too keeps its source
text, flagged for review, and the dub completes (a strict run fails instead). Every translated unit is
cached by its text (and context, and audio for speech translators), so an edit or a new line costs
only itself. Human edits come from the dub project: a sentence's id names an edit of the whole
sentence (its pieces follow it), a line's id an edit of that piece alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import (
    ContextualTranslator,
    SpeechTranslator,
    TranslationCandidate,
    Translator,
)
from dubkit.backends.translator_choice import TranslatorChoice
from dubkit.errors import StageError, UnsupportedLanguagePairError
from dubkit.models.media import AudioFile
from dubkit.models.speech import (
    TranslatedSegment,
    TranslatedSentence,
    Translation,
    TranslationFallback,
    TranslatorUsed,
)
from dubkit.models.text import clean_spacing, join_pieces, tidy_translation
from dubkit.models.translation import TranslationUnit
from dubkit.pipeline.cache import hash_file, stable_hash
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.stages.sentences import SentenceOptions, SentenceUnit, group_sentences, split_translation

__all__ = ["TranslateStage"]

T = TypeVar("T")


@attrs.frozen
class _Cached:
    candidates: tuple[TranslationCandidate, ...]


@attrs.frozen
class _Result:
    """A sentence's machine translation: its candidates, and its pieces when it was translated by line."""

    candidates: tuple[TranslationCandidate, ...]
    fallback: TranslationFallback = TranslationFallback.NONE
    pieces: tuple[str, ...] | None = None


def _normalise(
    raw: Sequence[str | TranslationCandidate], source: str, target: str
) -> tuple[TranslationCandidate, ...]:
    out: list[TranslationCandidate] = []
    for c in raw:
        candidate = c if isinstance(c, TranslationCandidate) else TranslationCandidate(str(c))
        text = tidy_translation(candidate.text, source, target)
        if text and text not in (o.text for o in out):
            out.append(attrs.evolve(candidate, text=text))
    return tuple(out)


_DEFAULT_BATCH = 32


def _batch_lines(translator: object) -> int:
    """The units a translator prefers per call: its ``batch_lines`` attribute, else 32."""
    value = getattr(translator, "batch_lines", _DEFAULT_BATCH)
    return value if isinstance(value, int) and value > 0 else _DEFAULT_BATCH


class _Call:
    """One translator, called the way it understands best (speech, context, or plain texts)."""

    def __init__(
        self,
        binding: BackendBinding[Translator],
        audio: AudioFile,
        source: str,
        target: str,
        n_best: int,
    ) -> None:
        self.binding = binding
        self.audio = audio
        self.source, self.target, self.n_best = source, target, n_best
        instance = binding.instance
        self.speech = isinstance(instance, SpeechTranslator)
        self.contextual = not self.speech and isinstance(instance, ContextualTranslator)
        self._audio_digest = hash_file(audio.path) if self.speech else ""

    def key(self, unit: TranslationUnit) -> str:
        """The unit cache key: everything the translation of ``unit`` depends on."""
        value: dict[str, Any] = {
            "t": self.binding.fingerprint(),
            "s": self.source,
            "g": self.target,
            "n": self.n_best,
            "x": unit.text,
        }
        if self.contextual or self.speech:
            value["c"] = [list(unit.before), list(unit.after)]
        if self.speech:
            value["a"] = [self._audio_digest, [list(span) for span in unit.spans]]
        return stable_hash(value)

    def __call__(self, units: Sequence[TranslationUnit]) -> list[tuple[TranslationCandidate, ...] | None]:
        """Translate ``units``: their candidates, ``None`` for a unit the translator gave nothing usable for.

        Raises:
            ValueError: the translator returned the wrong number of results.
        """
        backend: Any = self.binding.get()
        if self.speech:
            raw = backend.translate_speech(self.audio, units, self.source, self.target, self.n_best)
        elif self.contextual:
            raw = backend.translate_units(units, self.source, self.target, self.n_best)
        else:
            raw = backend.translate([u.text for u in units], self.source, self.target, self.n_best)
        if len(raw) != len(units):
            raise ValueError(f"the translator returned {len(raw)} results for {len(units)} units")
        return [
            _normalise(candidates, unit.text, self.target) or None
            for unit, candidates in zip(units, raw, strict=True)
        ]

    def one(self, unit: TranslationUnit) -> tuple[TranslationCandidate, ...]:
        """Translate one unit.

        Raises:
            ValueError: the translator gave nothing usable for it.
        """
        (got,) = self([unit])
        if got is None:
            raise ValueError(f"no translation of {unit.text[:60]!r}")
        return got


class TranslateStage(BaseStage[Translation]):
    """Translates sentence by sentence, in batches; each unit's result is cached.

    Args:
        translator: The translator, or a `TranslatorChoice` that picks one per language pair.
        n_best: Candidates to ask for per sentence (the timing solver may pick a shorter one).
        batch_size: Sentences per translator call; ``None``: the translator's ``batch_lines`` (an
            optional attribute: Apertium starts a process per call, so it takes many at once), else 32.
        sentences: When consecutive lines form one sentence.
        context: Sentences before and after each one passed as context to translators that use it.
    """

    name = "translate"
    version = "2"
    inputs = (AUDIO, TRANSCRIPT)
    output = TRANSLATION

    def __init__(
        self,
        translator: BackendBinding[Translator] | TranslatorChoice,
        *,
        n_best: int = 1,
        batch_size: int | None = None,
        sentences: SentenceOptions | None = None,
        context: int = 1,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if context < 0:
            raise ValueError(f"context must be >= 0, got {context}")
        self.choice = (
            translator if isinstance(translator, TranslatorChoice) else TranslatorChoice.single(translator)
        )
        self.n_best = n_best
        self.sentences = sentences or SentenceOptions()
        self.context = context
        self._batch_size = batch_size

    @property
    def batch_size(self) -> int | None:
        """Sentences per call: the one given, else a named translator's (``None``: decided per run)."""
        if self._batch_size is not None:
            return self._batch_size
        return _batch_lines(self.choice.bindings[0].instance) if self.choice.named else None

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """Translator identity (or the automatic choice's candidates), languages, options and edits."""
        return {
            "backend": self.choice.fingerprint(),
            "target": request.target_language,
            "source": request.source_language,
            "n_best": self.n_best,
            "sentences": attrs.asdict(self.sentences),
            "context": self.context,
            "edits": [list(e) for e in request.translation_edits],
        }

    def validate(self, request: RunRequest) -> None:
        """A translator must reach the pair (with the source detected: some source must reach the target).

        Raises:
            UnsupportedLanguagePairError: none does; the error lists the targets that can be reached.
        """
        source, target = request.source_language, request.target_language
        if source == target:
            return
        if source is not None:
            self.choice.for_pair(source, target)
            return
        reachable = sorted({t for _, t in self.choice.pairs()})
        if target not in reachable:
            name = self.choice.bindings[0].name if self.choice.named else "auto"
            raise UnsupportedLanguagePairError(
                "auto", target, name, [], reachable=reachable, install=self.choice.install_hint("en", target)
            )

    def run(self, ctx: StageContext, inputs: Artifacts) -> Translation:
        """Translate the sentences not cached yet, split them into their lines, apply human edits."""
        transcript = inputs[TRANSCRIPT]
        source, target = transcript.language, ctx.request.target_language
        units = group_sentences(transcript.segments, source, self.sentences)
        used: TranslatorUsed | None = None
        if source == target or not units:
            machine = {u.id: _Result((TranslationCandidate(u.text),)) for u in units}
        else:
            binding = self.choice.for_pair(source, target)
            call = _Call(binding, inputs[AUDIO].analysis, source, target, self.n_best)
            machine = self._translate(ctx, call, units)
            used = TranslatorUsed(
                name=binding.name,
                version=binding.version,
                options=json.dumps(binding.options, sort_keys=True, default=str),
                chosen=not self.choice.named,
            )
        edits = dict(ctx.request.translation_edits)
        sentences, segments = [], []
        for unit in units:
            sentence, pieces = _assemble(unit, machine[unit.id], edits, target)
            sentences.append(sentence)
            segments += pieces
        return Translation(
            source_language=source,
            target_language=target,
            segments=tuple(segments),
            issues=tuple(ctx.issues),
            sentences=tuple(sentences),
            translator=used,
        )

    # --- translating ------------------------------------------------------------------------------

    def _units(self, units: Sequence[SentenceUnit]) -> list[TranslationUnit]:
        texts = [u.text for u in units]
        out = []
        for i, unit in enumerate(units):
            out.append(
                TranslationUnit(
                    text=unit.text,
                    before=tuple(texts[max(0, i - self.context) : i]),
                    after=tuple(texts[i + 1 : i + 1 + self.context]),
                    spans=tuple((s.start, s.end) for s in unit.segments),
                )
            )
        return out

    def _translate(self, ctx: StageContext, call: _Call, units: Sequence[SentenceUnit]) -> dict[str, _Result]:
        cache = ctx.units()
        results: dict[str, _Result] = {}
        pending: list[tuple[SentenceUnit, TranslationUnit]] = []
        for unit, tunit in zip(units, self._units(units), strict=True):
            if not unit.text.strip():
                results[unit.id] = _Result((TranslationCandidate(""),))
            elif (hit := cache.get(call.key(tunit), _Cached)) is not None:
                results[unit.id] = _Result(hit.candidates)
            else:
                pending.append((unit, tunit))
        size = self._batch_size or _batch_lines(call.binding.instance)
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        for batch in ctx.each(batches, label="batch"):
            label = f"sentences {batch[0][0].segment_ids[0]}..{batch[-1][0].segment_ids[-1]}"
            got = _attempt(ctx, label, partial(call, [t for _, t in batch]))
            retry = []
            for index, (unit, tunit) in enumerate(batch):
                candidates = got[index] if got is not None else None
                if candidates is None:
                    retry.append((unit, tunit))  # the batch failed, or gave nothing for this one
                else:
                    results[unit.id] = _Result(candidates)
                    cache.put(call.key(tunit), _Cached(candidates))
            for unit, tunit in retry:  # alone, then line by line
                one = _attempt(ctx, unit.id, partial(call.one, tunit))
                if one is not None:
                    results[unit.id] = _Result(one)
                    cache.put(call.key(tunit), _Cached(one))
                else:
                    results[unit.id] = self._by_line(ctx, call, unit)
        return results

    def _by_line(self, ctx: StageContext, call: _Call, unit: SentenceUnit) -> _Result:
        """A sentence the translator failed on: its lines one by one, a failing line kept as it was said."""
        cache = ctx.units()
        pieces: list[str] = []
        kept_source = False
        for seg in unit.segments:
            tunit = TranslationUnit(text=clean_spacing(seg.text), spans=((seg.start, seg.end),))
            hit = cache.get(call.key(tunit), _Cached) if len(unit.segments) > 1 else None
            got = hit.candidates if hit is not None else None
            if got is None and len(unit.segments) > 1:
                got = _attempt(ctx, seg.id, partial(call.one, tunit))
                if got is not None:
                    cache.put(call.key(tunit), _Cached(got))
            if got is None:
                kept_source = True
                pieces.append(tunit.text)
                if ctx.request.strict:
                    raise StageError(self.name, f"{seg.id}: the translator failed on {tunit.text[:60]!r}")
            else:
                pieces.append(got[0].text)
        fallback = TranslationFallback.SOURCE if kept_source else TranslationFallback.PIECES
        text = join_pieces(pieces, call.target)
        return _Result((TranslationCandidate(text),), fallback, tuple(pieces))

    def close(self) -> None:
        """Free the translators."""
        self.choice.close()


def _attempt(ctx: StageContext, unit: str, work: Callable[[], T]) -> T | None:
    """``work`` with the run's retries; ``None`` when it still fails (the caller falls back)."""
    return ctx.attempt(unit, work, final=False)


def _assemble(
    unit: SentenceUnit, result: _Result, edits: Mapping[str, str], target: str
) -> tuple[TranslatedSentence, list[TranslatedSegment]]:
    """The sentence (with its edit) and its lines' pieces (each with its own edit)."""
    best = result.candidates[0]
    text = edits.get(unit.id, best.text)
    sentence = TranslatedSentence(
        id=unit.id,
        segment_ids=unit.segment_ids,
        text=text,
        candidates=tuple(c.text for c in result.candidates),
        machine_text=best.text,
        untranslated=best.untranslated,
        edited=unit.id in edits,
        fallback=result.fallback,
    )
    if len(unit.segments) == 1:
        seg = unit.segments[0]
        piece = TranslatedSegment(
            segment_id=seg.id,
            text=edits.get(seg.id, text),
            candidates=sentence.candidates,
            machine_text=best.text,
            untranslated=best.untranslated,
            edited=seg.id in edits,
        )
        return sentence, [piece]
    if result.pieces is not None and unit.id not in edits:
        shares = list(result.pieces)
    else:
        shares = split_translation(text, unit.weights, target)
    pieces = []
    for seg, share in zip(unit.segments, shares, strict=True):
        words = tuple(w for w in best.untranslated if w.casefold() in share.casefold())
        pieces.append(
            TranslatedSegment(
                segment_id=seg.id,
                text=edits.get(seg.id, share),
                candidates=(share,),
                machine_text=share,
                untranslated=words,
                edited=seg.id in edits,
            )
        )
    return sentence, pieces
