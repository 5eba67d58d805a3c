"""Finding a judge's quote in the answer: character alignment with rapidfuzz, tolerant of how
language models really quote.

Judges slip: they change case and punctuation, drop a small word, join two sentences, swap a
word for a synonym, or shorten a quote with an ellipsis. :func:`locate_quote` compares the quote
and the answer after :func:`~bot.grading.folding.normalise_words` (case, quotes, punctuation
and whitespace unified) and aligns each part of the quote (parts are separated by an ellipsis)
with :func:`rapidfuzz.fuzz.partial_ratio_alignment`, which finds the best-matching stretch of
the answer character by character. A part is found when the alignment reaches a similarity that
depends on its length (short parts must match almost exactly, long ones may differ by a few
words), and when enough of its words are really there. The result is the span of the *answer*
that the quote points at: what is then checked (does it carry the key point?) is the member's
own text, never the judge's wording.

Cost: one alignment per part (parts are cut to :data:`MAX_PART_CHARS`), linear in the answer;
a few milliseconds for the longest quote in a 4,000-character answer
(``tests/grading/test_evidence_speed.py`` holds it under 20 ms). Callers run it off the event
loop all the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.grading.folding import Folded, normalise_words

#: Longest quote part aligned, in normalised characters (longer parts are cut to this; the
#: alignment cost grows with the square of the part's length).
MAX_PART_CHARS = 400
#: Parts with fewer words than this must occur exactly (as whole words).
MIN_FUZZY_WORDS = 3
#: (minimum normalised length, similarity 0-100 a part of at least that length must reach).
SIMILARITY_BY_LENGTH: tuple[tuple[int, float], ...] = ((60, 76.0), (30, 80.0), (0, 86.0))
#: A strict look-up (a factual error's quote, which costs points) needs this similarity and
#: this share of words.
STRICT_SIMILARITY = 92.0
STRICT_WORD_SHARE = 0.9
#: Share of a part's words (ignoring one- and two-letter words) that must occur in the stretch;
#: parts of at most SHORT_PART_WORDS such words need SHORT_PART_WORD_SHARE.
MIN_WORD_SHARE = 0.55
SHORT_PART_WORDS = 6
SHORT_PART_WORD_SHARE = 0.75

_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.+|…|\[\s*(?:\.\.\.|…)\s*\]|\(\s*(?:\.\.\.|…)\s*\))\s*")
_CLAUSE_BREAK = re.compile(r"(?<=[.!?;:,])\s+")


@dataclass(frozen=True)
class QuoteLocation:
    """Where a quote sits in the answer: one source span per quote part, and the worst score."""

    spans: tuple[tuple[int, int], ...]
    score: float

    @property
    def start(self) -> int:
        return min(start for start, _ in self.spans)

    @property
    def end(self) -> int:
        return max(end for _, end in self.spans)


class AnswerText:
    """An answer prepared once for many quote look-ups."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.normalised: Folded = normalise_words(text)
        self.words = frozenset(self.normalised.text.split())

    def locate(self, quote: str, *, strict: bool = False) -> QuoteLocation | None:
        return locate_quote(quote, self, strict=strict)


def quote_parts(quote: str) -> list[str]:
    """The parts of a quote that an ellipsis separates (blank parts dropped)."""
    return [part for part in _ELLIPSIS.split(quote) if re.search(r"\w", part)]


def _threshold(length: int) -> float:
    for minimum, similarity in SIMILARITY_BY_LENGTH:
        if length >= minimum:
            return similarity
    return SIMILARITY_BY_LENGTH[-1][1]


def _word_share(part_words: Sequence[str], window: str) -> float:
    meaningful = [word for word in part_words if len(word) > 2]
    if not meaningful:
        return 1.0
    present = set(window.split())
    return sum(1 for word in meaningful if word in present) / len(meaningful)


def _enough_words(part_words: Sequence[str], window: str, strict: bool) -> bool:
    meaningful = sum(1 for word in part_words if len(word) > 2)
    needed = SHORT_PART_WORD_SHARE if meaningful <= SHORT_PART_WORDS else MIN_WORD_SHARE
    if strict:
        needed = max(needed, STRICT_WORD_SHARE)
    return _word_share(part_words, window) >= needed


def _snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1] != " ":
        start -= 1
    while end < len(text) and text[end] != " ":
        end += 1
    return start, end


def _locate_part(
    part: str, answer: AnswerText, strict: bool = False
) -> tuple[tuple[int, int], float] | None:
    needle = normalise_words(part).text[:MAX_PART_CHARS].strip()
    haystack = answer.normalised.text
    if not needle or not haystack:
        return None
    words = needle.split()
    padded = f" {haystack} "
    exact = padded.find(f" {needle} ")
    if exact >= 0:
        return answer.normalised.source_span(exact, exact + len(needle)), 100.0
    if len(words) < MIN_FUZZY_WORDS:
        return None
    needed = max(_threshold(len(needle)), STRICT_SIMILARITY if strict else 0.0)
    alignment = fuzz.partial_ratio_alignment(needle, haystack, score_cutoff=needed)
    if alignment is None or alignment.score < needed:
        return None
    if len(needle) > len(haystack):  # the quote is longer than the whole answer
        if alignment.src_end - alignment.src_start < 0.8 * len(needle):
            return None
        start, end = 0, len(haystack)
    else:
        start, end = _snap_to_words(haystack, alignment.dest_start, alignment.dest_end)
    if not _enough_words(words, haystack[start:end], strict):
        return None
    return answer.normalised.source_span(start, end), float(alignment.score)


def locate_quote(
    quote: str, answer: AnswerText | str, *, strict: bool = False
) -> QuoteLocation | None:
    """Where every part of ``quote`` sits in ``answer``; ``None`` if any part is not there.

    A long part that is not found as a whole is tried once more split at its clause breaks
    (a judge that merged two sentences that are apart in the answer). ``strict`` demands a
    near-verbatim quote (used where a quote costs the member points).
    """
    prepared = answer if isinstance(answer, AnswerText) else AnswerText(answer)
    parts = quote_parts(quote)
    if not parts:
        return None
    spans: list[tuple[int, int]] = []
    worst = 100.0
    for part in parts:
        found = _locate_part(part, prepared, strict)
        if found is None:
            pieces = [piece for piece in _CLAUSE_BREAK.split(part) if re.search(r"\w", piece)]
            if len(pieces) < 2:
                return None
            located = [_locate_part(piece, prepared, strict) for piece in pieces]
            if any(piece is None for piece in located):
                return None
            for piece in located:
                assert piece is not None
                spans.append(piece[0])
                worst = min(worst, piece[1])
            continue
        spans.append(found[0])
        worst = min(worst, found[1])
    return QuoteLocation(tuple(spans), worst)


def evidence_in_answer(evidence: str, answer: str) -> bool:
    """Whether every part of a quote is found in the answer (see :func:`locate_quote`)."""
    return locate_quote(evidence, answer) is not None


# --- sentences around a span ------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?。！？]+[\"')\]]*(?=\s|$)|\n")


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences (and lines) of ``text``, trimmed of surrounding whitespace."""
    bounds = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        bounds.append((start, end))
        start = end
    bounds.append((start, len(text)))
    trimmed = []
    for begin, finish in bounds:
        segment = text[begin:finish]
        stripped = segment.strip()
        if not stripped:
            continue
        offset = begin + (len(segment) - len(segment.lstrip()))
        trimmed.append((offset, offset + len(stripped)))
    return trimmed


def holding_sentences(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentences of ``text`` that overlap any of ``spans``, in order, without repeats."""
    held = []
    for begin, finish in sentence_bounds(text):
        if any(start < finish and end > begin for start, end in spans):
            held.append((begin, finish))
    return held
