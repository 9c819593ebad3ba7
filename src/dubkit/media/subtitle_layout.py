"""Subtitle cues laid out by the usual rules: short lines, two lines at most, readable for long enough.

`layout_cues` turns what is spoken when (a dubbed clip's placement and its text) into cues:

* at most ``max_line_chars`` (42) characters a line and ``max_lines`` (2) lines a cue, lines broken at
  punctuation or between words, balanced;
* a text too long for one cue is cut into several at punctuation (else between words), each given a
  share of the clip's time in proportion to its length;
* no cue shorter than ``min_duration`` (1 s) and none read faster than ``max_cps`` (20) characters a
  second, where the timing allows: a cue is held into the silence after it, may appear a little before
  its speech, and is merged with its neighbour when that is still not enough;
* the text cleaned: one space between words, none before punctuation.

`check_cues` counts the cues that break a rule, and how many of those the timing excused (a cue boxed
in by its neighbours with no room to merge). Scripts written without spaces (Chinese, Japanese, Thai)
get shorter lines and a lower reading speed in characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from dubkit.models.media import SubtitleCue
from dubkit.models.text import CLAUSE_PUNCTUATION, SENTENCE_PUNCTUATION, clean_spacing, writes_spaces

__all__ = ["SpokenText", "SubtitleCheck", "SubtitleRules", "check_cues", "layout_cues"]

_EPS = 1e-6


@attrs.frozen(slots=True)
class SubtitleRules:
    """The rules cues are laid out by.

    Attributes:
        max_line_chars: Characters a line.
        max_lines: Lines a cue.
        min_duration: Seconds a cue stays at least.
        max_cps: Characters a second a reader is asked to read at most.
        min_gap: Seconds between two cues.
        max_lead: Seconds a cue may appear before its speech.
        max_linger: Seconds a cue may stay after its speech.
    """

    max_line_chars: int = 42
    max_lines: int = 2
    min_duration: float = 1.0
    max_cps: float = 20.0
    min_gap: float = 0.08
    max_lead: float = 0.5
    max_linger: float = 3.0

    @property
    def max_chars(self) -> int:
        """Characters a cue (every line)."""
        return self.max_line_chars * self.max_lines

    @classmethod
    def for_language(cls, language: str) -> SubtitleRules:
        """The usual rules; 16 characters a line and 9 a second for scripts without spaces."""
        if writes_spaces(language):
            return cls()
        return cls(max_line_chars=16, max_cps=9.0)


@attrs.frozen(slots=True)
class SpokenText:
    """Something said in the dub (or the source): where it plays and its words."""

    start: float
    end: float
    text: str


def _split_points(text: str, glue: str) -> list[tuple[int, float]]:
    """Where ``text`` may be cut (index of the cut) and how good a place it is (higher is better)."""
    points = []
    for i, char in enumerate(text):
        if glue and char == " ":
            before = text[:i].rstrip()
            last = before[-1] if before else ""
            quality = 2.0 if last in SENTENCE_PUNCTUATION else 1.0 if last in CLAUSE_PUNCTUATION else 0.0
            points.append((i, quality))
        elif not glue and i > 0:
            last = text[i - 1]
            quality = 2.0 if last in SENTENCE_PUNCTUATION else 1.0 if last in CLAUSE_PUNCTUATION else 0.0
            points.append((i, quality))
    return points


def _cut(text: str, at: int, glue: str) -> tuple[str, str]:
    return text[:at].strip(), text[at + (1 if glue else 0) :].strip()


def _fits(text: str, rules: SubtitleRules, glue: str) -> bool:
    """Whether ``text`` wraps into ``max_lines`` lines of at most ``max_line_chars``.

    Greedy wrapping needs the fewest lines, so it decides.
    """
    if not glue:
        return len(text) <= rules.max_chars
    lines, width = 1, -1
    for word in text.split():
        if len(word) > rules.max_line_chars:
            return False
        if width + 1 + len(word) <= rules.max_line_chars:
            width += 1 + len(word)
        else:
            lines, width = lines + 1, len(word)
    return lines <= rules.max_lines


def _chunks(text: str, rules: SubtitleRules, glue: str) -> list[str]:
    """``text`` in pieces that each fit one cue, of similar lengths, cut at punctuation.

    A cut goes at punctuation near an even cut, else between words; one piece more than the fewest is
    taken when that puts the cut at a sentence's end (or a clause's, near enough).
    """
    if _fits(text, rules, glue):
        return [text]
    limit = rules.max_chars
    fewest = -(-len(text) // limit)
    best: tuple[float, int] | None = None
    for count, cost in ((fewest, 0.0), (fewest + 1, 0.3)):
        target = len(text) / count
        lowest = len(text) - (count - 1) * limit  # the rest must fit in the other pieces
        for at, quality in _split_points(text, glue):
            if at >= lowest and _fits(text[:at].strip(), rules, glue):
                score = 0.5 * quality - abs(at - target) / limit - cost
                if best is None or score > best[0]:
                    best = (score, at)
    if best is None:  # no boundary in reach (a very long word): cut inside it
        cut = rules.max_line_chars
        return [text[:cut], *_chunks(text[cut:].strip(), rules, glue)]
    head, tail = _cut(text, best[1], glue)
    return [head, *_chunks(tail, rules, glue)]


def _break_lines(text: str, rules: SubtitleRules, glue: str) -> str:
    """The cue's text on one line, or two balanced lines broken at the best place."""
    if len(text) <= rules.max_line_chars or rules.max_lines < 2:
        return text
    best: tuple[float, str] | None = None
    for at, quality in _split_points(text, glue):
        top, bottom = _cut(text, at, glue)
        if not top or not bottom:
            continue
        longest = max(len(top), len(bottom))
        over = max(0, longest - rules.max_line_chars)
        score = over * 100.0 + abs(len(top) - len(bottom)) * 0.1 - quality * 2.0
        if best is None or score < best[0]:
            best = (score, f"{top}\n{bottom}")
    return best[1] if best is not None else text


def _flat(text: str) -> str:
    return text.replace("\n", " ")


def _length(text: str) -> int:
    return len(_flat(text))


@attrs.define
class _Cue:
    start: float
    end: float
    text: str
    speech_start: float


def _need(cue: _Cue, rules: SubtitleRules) -> float:
    return max(rules.min_duration, _length(cue.text) / rules.max_cps)


def layout_cues(
    spoken: Sequence[SpokenText],
    language: str,
    *,
    rules: SubtitleRules | None = None,
    duration: float | None = None,
) -> list[SubtitleCue]:
    r"""Cues for what is said, by the rules (see the module notes).

    Args:
        spoken: What is said and when, in any order (overlaps are trimmed).
        language: The text's language (ISO 639-1): how words are separated.
        rules: The rules (default: `SubtitleRules.for_language`).
        duration: The media's length; no cue runs past it.

    Returns:
        The cues in time order, lines separated by ``\\n``.
    """
    rules = rules or SubtitleRules.for_language(language)
    glue = " " if writes_spaces(language) else ""
    end_of_media = duration if duration is not None else float("inf")
    items = [
        (item.start, item.end, text)
        for item in sorted(spoken, key=lambda s: (s.start, s.end))
        if (text := clean_spacing(item.text)) and item.end > item.start
    ]
    cues: list[_Cue] = []
    for k, (start, end, text) in enumerate(items):
        pieces = _chunks(text, rules, glue)
        if len(pieces) == 1:
            cues.append(_Cue(start, end, text, start))
            continue
        # A text cut into several cues shares its clip's time, and the silence after it when the clip is
        # too short for them all to be read.
        needs = [max(rules.min_duration, len(p) / rules.max_cps) for p in pieces]
        room_end = items[k + 1][0] - rules.min_gap if k + 1 < len(items) else end_of_media
        span_end = max(end, min(start + sum(needs), room_end))
        weights = needs if span_end > end else [float(len(p)) for p in pieces]
        cursor = start
        for piece, weight in zip(pieces, weights, strict=True):
            length = (span_end - start) * weight / sum(weights)
            cues.append(_Cue(cursor, cursor + length, piece, cursor))
            cursor += length
    _fit(cues, rules, end_of_media, glue)
    return [SubtitleCue(c.start, c.end, _break_lines(c.text, rules, glue)) for c in cues]


def _fit(cues: list[_Cue], rules: SubtitleRules, end_of_media: float, glue: str) -> None:
    """Hold, lead and merge cues until each is long enough to read (where the timing allows).

    A cue too short to read is first held into the silence after it and shown a little before its speech
    (``max_linger``, ``max_lead``); still too short, it is merged with a neighbour when the text fits one
    cue; else it takes all the silence around it.
    """
    for i in range(1, len(cues)):  # overlapping speech: the earlier cue yields
        if cues[i - 1].end > cues[i].start - rules.min_gap:
            cues[i - 1].end = max(cues[i - 1].start + 0.01, cues[i].start - rules.min_gap)
    i = 0
    while i < len(cues):
        cue = cues[i]
        _stretch(cues, i, rules, end_of_media, capped=True)
        if cue.end - cue.start + _EPS >= _need(cue, rules):
            i += 1
            continue
        merged = _merge_with_neighbour(cues, i, rules, glue)
        if merged is not None:
            i = merged  # look at the merged cue again
            continue
        _stretch(cues, i, rules, end_of_media, capped=False)
        i += 1


def _stretch(cues: list[_Cue], i: int, rules: SubtitleRules, end_of_media: float, *, capped: bool) -> None:
    """Hold cue ``i`` into the silence after it, then let it appear earlier, as far as it needs.

    ``capped``: no further than ``max_linger`` after and ``max_lead`` before its speech; else as far as
    its neighbours allow.
    """
    cue = cues[i]
    need = _need(cue, rules)
    if cue.end - cue.start >= need:
        return
    limit = cues[i + 1].start - rules.min_gap if i + 1 < len(cues) else end_of_media
    if capped:
        limit = min(limit, cue.start + (cue.end - cue.start) + rules.max_linger)
    cue.end = max(cue.end, min(cue.start + need, limit))
    if cue.end - cue.start >= need:
        return
    earliest = cues[i - 1].end + rules.min_gap if i > 0 else 0.0
    if capped:
        earliest = max(earliest, cue.speech_start - rules.max_lead)
    cue.start = min(cue.start, max(earliest, cue.end - need))


def _merge_with_neighbour(cues: list[_Cue], i: int, rules: SubtitleRules, glue: str) -> int | None:
    """Merge cue ``i`` into the next (else the previous) cue when the text still fits one cue."""
    for j in (i + 1, i - 1):
        if not 0 <= j < len(cues):
            continue
        first, second = (cues[i], cues[j]) if j > i else (cues[j], cues[i])
        text = f"{first.text}{glue}{second.text}"
        if not _fits(text, rules, glue) or second.start - first.end > rules.max_linger:
            continue
        merged = _Cue(first.start, second.end, text, first.speech_start)
        low = min(i, j)
        cues[low : low + 2] = [merged]
        return low
    return None


@attrs.frozen(slots=True)
class SubtitleCheck:
    """How a set of cues keeps the rules.

    Attributes:
        cues: Cues checked.
        long_lines: Lines over ``max_line_chars``.
        too_many_lines: Cues over ``max_lines``.
        too_short: Cues under ``min_duration``.
        too_fast: Cues over ``max_cps``.
        excused: Of ``too_short`` and ``too_fast``, the cues the timing left no room to fix (boxed in
            by their neighbours, with too much text to merge with either).
    """

    cues: int
    long_lines: int
    too_many_lines: int
    too_short: int
    too_fast: int
    excused: int

    @property
    def violations(self) -> int:
        """Broken rules the timing did not excuse."""
        return self.long_lines + self.too_many_lines + self.too_short + self.too_fast - self.excused


def check_cues(
    cues: Sequence[SubtitleCue], rules: SubtitleRules, *, duration: float | None = None
) -> SubtitleCheck:
    """Count the cues that break ``rules`` (see `SubtitleCheck`)."""
    ordered = sorted(cues, key=lambda c: (c.start, c.end))
    long_lines = too_many = too_short = too_fast = excused = 0
    end_of_media = duration if duration is not None else float("inf")
    for i, cue in enumerate(ordered):
        lines = cue.text.split("\n")
        long_lines += sum(1 for line in lines if len(line) > rules.max_line_chars)
        too_many += len(lines) > rules.max_lines
        length = cue.end - cue.start
        short = length + 1e-3 < rules.min_duration
        fast = _length(cue.text) / max(length, 1e-3) > rules.max_cps + 1e-3
        too_short += short
        too_fast += fast
        if short or fast:
            excused += (short + fast) if _boxed_in(ordered, i, rules, end_of_media) else 0
    return SubtitleCheck(len(ordered), long_lines, too_many, too_short, too_fast, excused)


def _room(
    cues: Sequence[SubtitleCue], first: int, last: int, rules: SubtitleRules, end_of_media: float
) -> float:
    """Seconds cues ``first..last`` could take: from the cue before them to the cue after them."""
    before = cues[first - 1].end + rules.min_gap if first > 0 else 0.0
    after = cues[last + 1].start - rules.min_gap if last + 1 < len(cues) else end_of_media
    return after - before


def _boxed_in(cues: Sequence[SubtitleCue], i: int, rules: SubtitleRules, end_of_media: float) -> bool:
    """Whether cue ``i`` cannot be read as the rules ask however it is timed.

    All the silence around it is too short, and sharing a cue with a neighbour would not be readable either.
    """
    glue = " " if " " in cues[i].text else ""

    def need(text: str) -> float:
        return max(rules.min_duration, _length(text) / rules.max_cps)

    if _room(cues, i, i, rules, end_of_media) + 1e-3 >= need(cues[i].text):
        return False
    for j in (i - 1, i + 1):
        if 0 <= j < len(cues):
            first, last = min(i, j), max(i, j)
            text = f"{_flat(cues[first].text)}{glue}{_flat(cues[last].text)}"
            if _fits(text, rules, glue) and _room(cues, first, last, rules, end_of_media) + 1e-3 >= need(
                text
            ):
                return False
    return True
