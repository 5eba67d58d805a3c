"""Keyword lists: text that names terms instead of saying something about them.

Both graders ask it of each sentence of an answer: the offline grader gives a key point found
only in list-like sentences at most partial credit, and the LLM grader does not accept a quote
from them as evidence for a point that is not itself a list. A sentence is list-like when it is
a bare list of terms, a repetition of terms, or a long run of words with few function words, or
when it is a terse line among terse neighbours (a bullet list). Numbers and formulas are exempt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words whose total absence from a long stretch of text marks it as a keyword dump, not prose.
_FUNCTION_WORDS_TEXT = (
    "a an the of to in on at for by with from into as is are was were be been being it its "
    "this that these those which who when where while because so if than then and or but not "
    "no can could will would should may might must do does has have had their there they we "
    "you our each more less only also using via per how why what all any some such both over "
    "under after before between through without within across about out up"
)
_MATH = re.compile(r"\d|[=+*/^×≈√∑]")
#: A long sentence with fewer function words than this share is a keyword dump.
MIN_FUNCTION_WORD_SHARE = 0.12
_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


def looks_like_keyword_list(text: str) -> bool:
    """A bare list of terms, a repetition of terms, or a long run of words with few function words.

    Numbers and formulas are exempt from the list and density rules: ``q = [40, -127, 50, 17]``
    or ``m_hat = m / (1 - beta1^t)`` are answers, not keyword dumps.
    """
    words = re.findall(r"[^\W\d_]+", text.casefold())
    function_words = sum(1 for word in words if word in _FUNCTION_WORDS)
    if _MATH.search(text):
        return False
    if len(words) >= 8 and len(set(words)) < 0.5 * len(words):
        return True
    pieces = [piece for piece in re.split(r"[,;|•·\n\t]+|\s[-*+]\s", text) if piece.strip()]
    short = sum(1 for piece in pieces if len(re.findall(r"\w+", piece)) <= 3)
    if len(pieces) >= 3 and short >= 0.75 * len(pieces) and function_words < 0.2 * len(words):
        return True
    if len(words) >= 10 and function_words == 0:
        return True
    return len(words) >= 16 and function_words < MIN_FUNCTION_WORD_SHARE * len(words)


def is_enumerative(key_point: str) -> bool:
    """Whether a key point is itself a list of items (then a list of terms is fair evidence)."""
    return key_point.count(",") >= 2 or bool(re.search(r",[^,]+\b(?:and|or)\b", key_point))


#: A sentence of at most this many words is "terse"; runs of terse sentences are lists.
TERSE_WORDS = 4


def _is_terse(sentence: str) -> bool:
    return not _MATH.search(sentence) and len(re.findall(r"\w+", sentence)) <= TERSE_WORDS


def _in_terse_run(index: int, sentences: Sequence[str]) -> bool:
    """A terse sentence with at least two terse neighbours (within two places): a bullet list."""
    if not _is_terse(sentences[index]):
        return False
    nearby = range(max(0, index - 2), min(len(sentences), index + 3))
    return sum(1 for other in nearby if other != index and _is_terse(sentences[other])) >= 2


def keyword_list_sentences(sentences: Sequence[str]) -> list[bool]:
    """For each sentence of an answer (in order), whether it is list-like."""
    return [
        looks_like_keyword_list(sentence) or _in_terse_run(index, sentences)
        for index, sentence in enumerate(sentences)
    ]
