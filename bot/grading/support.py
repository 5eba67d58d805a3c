"""Does a stretch of the answer carry a key point's content? An offline check of the judge.

The judge says a key point is covered and quotes the answer; :mod:`bot.grading.evidence` finds
where. This module then asks, without any model call, whether the member's own words there (the
sentences holding the quote) actually make the point -- so that a judge talked into crediting a
sentence addressed to it, or an off-point sentence, gains the answer nothing.

Support (0-1) blends

* **lexical coverage**: the share of the key point's content words (stemmed, with the offline
  grader's synonym table and a soft match through word vectors) and numbers that occur in the
  text; words of the question itself count half (an answer repeats them anyway) and very common
  machine-learning words less still;
* **semantic similarity**: the WordLlama cosine between the text and the key point;

and is 1 when the text contains one of the key point's accepted forms (``KeyPoint.accept``).
A covered verdict needs :data:`COVERED_SUPPORT`, a partial one :data:`PARTIAL_SUPPORT`; a
covered verdict between the two is kept as partial. The thresholds were chosen on *dev* data
only -- the dev answers of ``tests/grading/correct_answers.yaml`` (true sentence / key point
pairs against sentences of other questions, vacuous on-topic sentences and attack sentences) and
the dev split of ``tests/data/grading/paraphrase_set.yaml`` (correct answers written away from
the reference's wording) -- and trade a little protection for fairness: WordLlama is a weak judge
of paraphrase, so a strict bar would take points from correct answers in other words.

Everything here is CPU work: callers run it off the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from bot.domain.bank import KeyPoint
from bot.grading.embeddings import StaticEmbedder, get_embedder
from bot.grading.folding import normalise_words
from bot.grading.offline import tokenize

#: Support a covered verdict needs; below it (down to PARTIAL_SUPPORT) the verdict is partial.
COVERED_SUPPORT = 0.30
#: Support a partial verdict needs; below it the verdict is missing.
PARTIAL_SUPPORT = 0.22
#: Within support, the share of lexical coverage (the rest is semantic similarity).
LEXICAL_SHARE = 0.5
#: Cosine range mapped onto 0-1 for the semantic part.
COSINE_RANGE = (0.15, 0.7)
#: Below this lexical coverage the semantic part counts only in proportion: a text that shares
#: no words with the key point is not supported by topical similarity alone ("a perfect answer
#: about ReLU" is close to every ReLU key point in embedding space).
LEXICAL_FLOOR = 0.15
#: Word-vector cosine from which a word counts as a soft match of a key-point word, and the
#: most a soft match earns.
SOFT_MATCH_COSINE = 0.72
SOFT_MATCH_CREDIT = 0.7
QUESTION_WORD_WEIGHT = 0.5
COMMON_WORD_WEIGHT = 0.4
NUMBER_WEIGHT = 1.5

#: Words so common in answers about machine learning that they prove little about a key point.
COMMON_WORDS = frozenset(
    "model data train training network neural learn learning layer input output value function "
    "method way result example number make time set work give use used using get thing "
    "different good better high low new first one two type kind case problem approach".split()
)
#: Words a key point may use about the answer itself ("The answer is (B)"): they prove nothing.
META_WORDS = frozenset("answer question correct candidate option choice".split())
META_WORD_WEIGHT = 0.1
_NUMBER_WORDS = {
    "zero": 0.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
    "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "twice": 2.0, "half": 0.5,
    "hundred": 100.0, "thousand": 1000.0, "million": 1e6, "billion": 1e9,
}  # fmt: skip
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[,.]\d+)*(?:e[-+]?\d+)?(?![\w])", re.IGNORECASE)


def numbers_in(text: str, *, words: bool = False) -> list[float]:
    """The numbers written in ``text`` (thousands separators and unicode minus understood);
    with ``words``, number words ("zero", "two", "half") too."""
    values: list[float] = []
    if words:
        values.extend(
            _NUMBER_WORDS[word]
            for word in re.findall(r"[a-z]+", text.lower())
            if word in _NUMBER_WORDS
        )
    for match in _NUMBER.finditer(text.replace("−", "-")):
        raw = match.group()
        if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            raw = raw.replace(",", "")
        elif "," in raw:
            raw = raw.replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw
        try:
            values.append(float(raw))
        except ValueError:
            continue
    return values


def _same_number(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-9, 0.005 * max(abs(a), abs(b)))


@dataclass(frozen=True)
class Support:
    """How well a text carries a key point."""

    value: float
    lexical: float
    semantic: float
    accepted: bool = False
    #: The raw embedding cosine behind ``semantic`` (0 without embeddings).
    cosine: float = 0.0


@dataclass(frozen=True)
class _Term:
    norm: str
    word: str
    weight: float


class KeyPointProfile:
    """What a key point's content is, prepared once per item.

    ``text`` is the key point; for a question without a rubric it is the whole reference
    (``whole_reference``), and then support measures how much of the *evidence* the reference
    backs (precision) instead of how much of the key point the evidence states (recall).
    """

    def __init__(
        self,
        text: str,
        prompt: str,
        accept: Sequence[str] = (),
        *,
        whole_reference: bool = False,
    ) -> None:
        self.text = text
        self.whole_reference = whole_reference
        question = {token.norm for token in tokenize(prompt) if token.norm}
        seen: dict[str, _Term] = {}
        for token in tokenize(text):
            if not token.norm or token.lower.isdigit() or token.norm in seen:
                continue
            weight = 1.0
            if token.norm in question:
                weight = QUESTION_WORD_WEIGHT
            if token.lower in COMMON_WORDS or token.norm in COMMON_WORDS:
                weight = min(weight, COMMON_WORD_WEIGHT)
            if token.lower in META_WORDS or token.norm in META_WORDS:
                weight = META_WORD_WEIGHT
            seen[token.norm] = _Term(token.norm, token.lower, weight)
        self.terms = tuple(seen.values())
        self.question = frozenset(question)
        self.numbers = tuple(dict.fromkeys(numbers_in(text)))
        self.accepted = tuple(text for form in accept if (text := normalise_words(form).text))

    @classmethod
    def of_point(cls, point: KeyPoint, prompt: str) -> KeyPointProfile:
        return cls(point.text, prompt, point.accept)

    @cached_property
    def total_weight(self) -> float:
        return sum(term.weight for term in self.terms) + NUMBER_WEIGHT * len(self.numbers)


#: Items whose profiles are kept (a bank holds a few hundred questions).
PROFILE_CACHE_SIZE = 1024


@lru_cache(maxsize=PROFILE_CACHE_SIZE)
def _profiles(
    key_points: tuple[KeyPoint, ...], prompt: str, reference: str
) -> tuple[KeyPointProfile, ...]:
    if not key_points:
        return (KeyPointProfile(reference, prompt, whole_reference=True),)
    return tuple(KeyPointProfile.of_point(point, prompt) for point in key_points)


class SupportChecker:
    """Scores how well stretches of an answer carry key points (see the module docstring)."""

    def __init__(self, embedder: StaticEmbedder | None = None, *, use_embeddings: bool = True):
        self._embedder = embedder
        self._use_embeddings = use_embeddings
        self._loaded = embedder is not None

    @property
    def embedder(self) -> StaticEmbedder | None:
        if not self._use_embeddings:
            return None
        if not self._loaded:
            self._embedder = get_embedder()
            self._loaded = True
        return self._embedder

    def profiles(
        self, key_points: Sequence[KeyPoint], prompt: str, reference: str = ""
    ) -> list[KeyPointProfile]:
        """One profile per key point; ``key_points`` empty means: grade against ``reference``.

        Profiles depend on the item only, so they are built once per item and shared."""
        return list(_profiles(tuple(key_points), prompt, reference if not key_points else ""))

    def support(self, profile: KeyPointProfile, text: str) -> Support:
        normalised = f" {normalise_words(text).text} "
        if any(f" {form} " in normalised for form in profile.accepted):
            return Support(1.0, 1.0, 1.0, accepted=True)
        lexical = self._lexical(profile, text)
        if self.embedder is None:
            return Support(lexical, lexical, 0.0)
        cosine = self._cosine(profile, text)
        low, high = COSINE_RANGE
        semantic = min(1.0, max(0.0, (cosine - low) / (high - low)))
        gate = min(1.0, lexical / LEXICAL_FLOOR)
        value = LEXICAL_SHARE * lexical + (1.0 - LEXICAL_SHARE) * semantic * gate
        return Support(value, lexical, semantic, cosine=cosine)

    def _lexical(self, profile: KeyPointProfile, text: str) -> float:
        if profile.whole_reference:
            return self._precision(profile, text)
        if profile.total_weight <= 0:
            return 0.0
        tokens = [token for token in tokenize(text) if token.norm]
        norms = {token.norm for token in tokens}
        earned = 0.0
        missing: list[_Term] = []
        for term in profile.terms:
            if term.norm in norms:
                earned += term.weight
            else:
                missing.append(term)
        embedder = self.embedder
        if missing and tokens and embedder is not None:
            words = sorted({token.lower for token in tokens})
            text_vectors = embedder.embed_words(words)
            term_vectors = embedder.embed_words([term.word for term in missing])
            # einsum, not matmul: no BLAS thread pool for a tiny product
            best = np.einsum("ik,jk->ij", term_vectors, text_vectors).max(axis=1)
            for term, cosine in zip(missing, best, strict=True):
                if cosine >= SOFT_MATCH_COSINE:
                    earned += term.weight * SOFT_MATCH_CREDIT
        if profile.numbers:
            present = numbers_in(text, words=True)
            earned += NUMBER_WEIGHT * sum(
                1 for number in profile.numbers if any(_same_number(number, v) for v in present)
            )
        return min(1.0, earned / profile.total_weight)

    def _precision(self, profile: KeyPointProfile, text: str) -> float:
        """Weighted share of the text's content words that the reference uses too."""
        reference = {term.norm for term in profile.terms}
        weights = []
        for token in tokenize(text):
            if not token.norm:
                continue
            weight = QUESTION_WORD_WEIGHT if token.norm in profile.question else 1.0
            weights.append((weight, token.norm in reference))
        total = sum(weight for weight, _ in weights)
        return sum(weight for weight, hit in weights if hit) / total if total else 0.0

    def _cosine(self, profile: KeyPointProfile, text: str) -> float:
        embedder = self.embedder
        if embedder is None:
            return 0.0
        vectors = embedder.embed([text, profile.text])
        return float(np.clip(np.dot(vectors[0], vectors[1]), -1.0, 1.0))
