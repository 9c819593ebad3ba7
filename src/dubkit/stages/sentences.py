"""Sentence units: the lines of a transcript that form one sentence, and their translation split back.

A transcriber cuts speech at pauses, so one sentence can arrive as several lines ("ask" / "not what" /
"your country can do for you"). Translated alone, each fragment loses its meaning. `group_sentences`
joins consecutive lines of one speaker into one unit when no sentence ends between them and the pause
is short; the unit is translated as one text, and `split_translation` cuts the translation back into
as many pieces as the unit has lines, at word boundaries (between characters in scripts written
without spaces), in proportion to the lines' shares of the text and of the time, preferring cuts after
punctuation.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from dubkit.models.speech import TranscriptSegment
from dubkit.models.text import (
    CLAUSE_PUNCTUATION,
    SENTENCE_PUNCTUATION,
    clean_spacing,
    ends_sentence,
    join_pieces,
    writes_spaces,
)

__all__ = ["SentenceOptions", "SentenceUnit", "group_sentences", "sentence_id", "split_translation"]


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen
class SentenceOptions:
    """When consecutive lines form one sentence.

    Attributes:
        max_pause: Seconds of silence between two lines above which they are two sentences even without
            punctuation between them (a pause inside a sentence is usually shorter).
        max_lines: The most lines one sentence may join.
        max_seconds: The longest a sentence may last, first line's start to last line's end.
        fragment_words: A line of at most this many words that ends with a full stop still joins
            the next one after a short pause (its full stop dropped): a transcriber often closes a
            fragment cut off by a pause ("Ask not." / "What your country can do for you."). So does a
            line whose full stop is followed by a line starting in lower case.
    """

    max_pause: float = attrs.field(default=0.8, validator=_positive)
    max_lines: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    max_seconds: float = attrs.field(default=25.0, validator=_positive)
    fragment_words: int = attrs.field(default=3, validator=attrs.validators.ge(0))


def sentence_id(segment_ids: Sequence[str]) -> str:
    """The id of the sentence made of these lines: the line's own id for one line, ``first..last`` else."""
    return segment_ids[0] if len(segment_ids) == 1 else f"{segment_ids[0]}..{segment_ids[-1]}"


@attrs.frozen
class SentenceUnit:
    """Consecutive lines of one speaker that form one sentence.

    Attributes:
        segments: The lines, in time order.
        text: Their texts joined as one sentence.
    """

    segments: tuple[TranscriptSegment, ...]
    text: str

    @property
    def id(self) -> str:
        """``seg-0003`` for a one-line sentence, ``seg-0003..seg-0005`` for three lines."""
        return sentence_id([s.id for s in self.segments])

    @property
    def segment_ids(self) -> tuple[str, ...]:
        """The lines' ids."""
        return tuple(s.id for s in self.segments)

    @property
    def start(self) -> float:
        """Where the first line starts."""
        return self.segments[0].start

    @property
    def end(self) -> float:
        """Where the last line ends."""
        return self.segments[-1].end

    @property
    def speaker(self) -> str:
        """Who says it."""
        return self.segments[0].speaker

    @property
    def durations(self) -> tuple[float, ...]:
        """Each line's length in seconds."""
        return tuple(s.duration for s in self.segments)

    @property
    def weights(self) -> tuple[float, ...]:
        """Each line's share of the sentence: the mean of its share of the text and of the time.

        The text share keeps a translation's pieces close to what each line says; the time share keeps
        each piece near the length its slot can hold.
        """
        chars = [len(s.text.strip()) for s in self.segments]
        times = [max(s.duration, 0.0) for s in self.segments]
        total_chars, total_time = sum(chars), sum(times)
        out = []
        for c, t in zip(chars, times, strict=True):
            text_share = c / total_chars if total_chars else 1 / len(chars)
            time_share = t / total_time if total_time else 1 / len(times)
            out.append((text_share + time_share) / 2)
        return tuple(out)


def _weak_stop(text: str) -> bool:
    """Whether ``text`` ends with a full stop (not ``?``, ``!`` or an ellipsis)."""
    stripped = text.rstrip().rstrip("\"'”’»)]")  # noqa: RUF001
    return stripped.endswith(".") and not stripped.endswith("..")


def _continues(previous: str, line: str, opts: SentenceOptions) -> tuple[bool, bool]:
    """Whether ``line`` goes on the sentence ``previous`` ends, and whether ``previous``'s stop is dropped."""
    if not ends_sentence(previous):
        return True, False
    if not _weak_stop(previous):
        return False, False
    first = line.lstrip()[:1]
    if len(previous.split()) <= opts.fragment_words or (first.isalpha() and first.islower()):
        return True, True
    return False, False


def _drop_stop(text: str) -> str:
    stripped = text.rstrip()
    closers = len(stripped) - len(stripped.rstrip("\"'”’»)]"))  # noqa: RUF001
    body, tail = stripped[: len(stripped) - closers], stripped[len(stripped) - closers :]
    return body[:-1] + tail if body.endswith(".") else stripped


def group_sentences(
    segments: Sequence[TranscriptSegment], language: str, options: SentenceOptions | None = None
) -> list[SentenceUnit]:
    """Consecutive lines grouped into sentences (each line in exactly one, in time order).

    A line joins the sentence before it when the same speaker says it, the pause between them is at most
    ``max_pause``, the sentence stays within ``max_lines`` and ``max_seconds``, and the sentence's last
    line does not end it: no sentence-final punctuation, or only the full stop of a short fragment (see
    `SentenceOptions.fragment_words`), which is then dropped from the sentence's text. Lines with no
    text are sentences of their own.
    """
    opts = options or SentenceOptions()
    groups: list[list[TranscriptSegment]] = []
    texts: list[list[str]] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        last = groups[-1] if groups else None
        joins = False
        if (
            last is not None
            and seg.text.strip()
            and last[-1].text.strip()
            and seg.speaker == last[-1].speaker
            and seg.start - last[-1].end <= opts.max_pause
            and len(last) < opts.max_lines
            and seg.end - last[0].start <= opts.max_seconds
        ):
            joins, drop = _continues(texts[-1][-1], seg.text, opts)
            if joins and drop:
                texts[-1][-1] = _drop_stop(texts[-1][-1])
        if joins and last is not None:
            last.append(seg)
            texts[-1].append(seg.text)
        else:
            groups.append([seg])
            texts.append([seg.text])
    return [
        SentenceUnit(
            segments=tuple(group),
            text=join_pieces(parts, language) if len(group) > 1 else clean_spacing(group[0].text),
        )
        for group, parts in zip(groups, texts, strict=True)
    ]


def _tokens(text: str, language: str) -> list[str]:
    """Words (with their punctuation) for languages written with spaces, else characters."""
    if writes_spaces(language):
        return text.split()
    tokens: list[str] = []
    for char in "".join(text.split()):
        if tokens and (char in SENTENCE_PUNCTUATION or char in CLAUSE_PUNCTUATION or char in "」』）)"):  # noqa: RUF001
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def _bonus(token: str) -> float:
    """How much a cut after ``token`` is preferred (a share of the sentence's length)."""
    stripped = token.rstrip("\"'”’»)]}›」』）")  # noqa: RUF001
    if not stripped:
        return 0.0
    if stripped[-1] in SENTENCE_PUNCTUATION:
        return 0.15
    if stripped[-1] in CLAUSE_PUNCTUATION:
        return 0.1
    return 0.0


def split_translation(text: str, weights: Sequence[float], language: str) -> list[str]:
    """Cut a translated sentence into ``len(weights)`` pieces in proportion to ``weights``.

    Pieces are cut between words (between characters for languages written without spaces); a cut
    after punctuation is preferred when it lies near the proportional point. Every piece gets at least
    one word when the text has enough; otherwise the last pieces are empty.

    Args:
        text: The translated sentence.
        weights: One positive weight per piece (`SentenceUnit.weights`).
        language: The text's language (ISO 639-1), which decides how words are separated.

    Returns:
        The pieces, in order; joined with spaces (or nothing) they give the cleaned ``text`` back.
    """
    count = len(weights)
    if count == 0:
        return []
    tokens = _tokens(clean_spacing(text), language)
    glue = " " if writes_spaces(language) else ""
    if count == 1 or not tokens:
        return [glue.join(tokens)] + [""] * (count - 1)
    if len(tokens) <= count:
        return tokens + [""] * (count - len(tokens))
    total_weight = sum(max(w, 1e-6) for w in weights)
    targets, running = [], 0.0
    for w in weights[:-1]:
        running += max(w, 1e-6)
        targets.append(running / total_weight)
    lengths = [len(t) + (1 if glue else 0) for t in tokens]
    total = float(sum(lengths))
    shares, acc = [], 0.0
    for length in lengths[:-1]:
        acc += length
        shares.append(acc / total)  # share of the text before a cut after token i
    cuts = _best_cuts(shares, [_bonus(t) for t in tokens[:-1]], targets)
    pieces, start = [], 0
    for cut in [*cuts, len(tokens) - 1]:
        pieces.append(glue.join(tokens[start : cut + 1]))
        start = cut + 1
    return pieces


def _best_cuts(shares: list[float], bonuses: list[float], targets: list[float]) -> list[int]:
    """Strictly increasing cut positions (one per target) minimising distance to targets minus bonuses.

    A dynamic program over the positions: O(cuts * positions).
    """
    positions, cuts = len(shares), len(targets)
    inf = float("inf")
    cost = [[inf] * positions for _ in range(cuts)]
    back = [[-1] * positions for _ in range(cuts)]
    for p in range(positions):
        cost[0][p] = abs(shares[p] - targets[0]) - bonuses[p]
    for j in range(1, cuts):
        best, best_at = inf, -1
        for p in range(positions):
            if p >= 1 and cost[j - 1][p - 1] < best:
                best, best_at = cost[j - 1][p - 1], p - 1
            if best_at >= 0:
                cost[j][p] = best + abs(shares[p] - targets[j]) - bonuses[p]
                back[j][p] = best_at
    last = min(range(positions), key=lambda p: cost[cuts - 1][p])
    chosen = [last]
    for j in range(cuts - 1, 0, -1):
        chosen.append(back[j][chosen[-1]])
    return chosen[::-1]
