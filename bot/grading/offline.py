"""The offline grader: lexical key-point coverage plus static-embedding similarity, no network.

Two modes:

* **Rubric** (the item has key points). A key point is stated by its text and by each of its
  ``accept`` forms (equivalent wordings, numbers, symbols); the best-supported statement decides.
  The answer is scanned in windows of one to three neighbouring sentences. A window's *support*
  for a statement blends lexical coverage of its terms (normalised, stemmed, with a small synonym
  table, formulas in one notation, see :mod:`bot.grading.notation`, and a soft match through
  word vectors) and of its numbers (equal values in any written form) with the window's
  embedding similarity to the statement. The best window gives the verdict (covered / partial /
  missing); the evidence is the single sentence of that window that best states the point.
  Before a point counts, :mod:`bot.grading.claims` checks that the window does not say the
  opposite (another number, a reversed direction, a negation, two roles exchanged): if it does,
  and no other passage states the point plainly, the point is missing, the hint says the answer
  seems to state the opposite, the grade carries a factual error, and the score loses
  :data:`CONTRADICTION_PENALTY`. A covered point whose numbers the answer never gives is partial.
  A point's distinctive names (Swish, BERT, Laplace; an acronym may be spelled out) must be in
  the passage that makes it, and the evidence sentence is one that names them.
  The score is :func:`bot.domain.rubric.score_verdicts`, blended with a small share of the
  reference-similarity score below (never more than the rubric itself found).
* **Reference only** (no key points, as on the Mohler benchmark). The score is a fixed blend of
  three similarities to the reference, mapped linearly onto 0-100 between a floor (an unrelated
  answer) and a ceiling (a close paraphrase).

Keyword stuffing: a sentence is *list-like* when :mod:`bot.grading.keyword_lists` says so (the
same test the LLM grader applies to quotes: a bare list or repetition of terms, a long run with
few function words, a terse line among terse neighbours). When most of an answer's content words sit in
list-like sentences the answer is a term list: a key point shown only in list-like text earns at
most a partial verdict, and the reference-similarity score is scaled down (by up to half) when
few content words sit in real sentences.

Unrelated answers: :meth:`OfflineGrader.relatedness` returns a 0-1 similarity to the reference;
below :data:`UNRELATED_THRESHOLD` the answer is off-topic, and ``Grade.details["relatedness"]``
carries the same figure so an LLM grader can clamp its score.

LLM-only questions (behavioural stories, open designs whose key points are labels) are
declined: ``grade`` raises :class:`LLMRequiredError` with a one-line reason a member can read.

The embedding model loads once per process (lazily, thread-safe); ``grade`` runs all CPU work
in a worker thread so it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np

from bot.domain.bank import KeyPoint
from bot.domain.rubric import (
    Coverage,
    FactualError,
    KeyPointVerdict,
    rubric_feedback,
    score_verdicts,
    shorten,
)
from bot.grading.base import Grade, GradingItem, LLMRequiredError
from bot.grading.claims import (
    ClaimReader,
    Comparison,
    Marks,
    Quantity,
    compare,
    find_quantities,
    swapped_pairings,
    swapped_roles,
)
from bot.grading.claims import same_quantity as _same_quantity
from bot.grading.embeddings import StaticEmbedder, get_embedder
from bot.grading.evidence import sentence_bounds
from bot.grading.keyword_lists import keyword_list_sentences
from bot.grading.notation import words as notation_words

# --- calibration constants (fixed a priori; see bench/grading_quality.py for measurements) ---

#: Weights of the summary similarity (reported in ``Grade.details``): whole-text cosine, cosine
#: after removing the question's words ("question demoting"), soft recall of the reference's
#: content words.
SIMILARITY_WEIGHTS = (0.2, 0.4, 0.4)


@dataclass(frozen=True)
class ReferenceModel:
    """A linear map from the answer-vs-reference features to a 0-5 grade.

    The shipped constants were fitted by least squares on the whole Mohler set with
    ``python bench/grading_quality.py --fit``; the figures the bench reports for this procedure
    come from refitting it inside each training fold (grouped by question), never in-sample.
    """

    intercept: float
    weights: tuple[tuple[str, float], ...]

    def grade(self, features: dict[str, float]) -> float:
        return self.intercept + sum(weight * features[name] for name, weight in self.weights)

    @property
    def no_overlap(self) -> float:
        """The grade of a prose answer that shares nothing with the reference (score 0)."""
        return self.grade({name: 1.0 if name == "prose" else 0.0 for name, _ in self.weights})

    @property
    def reference_itself(self) -> float:
        """The grade of the reference answer graded against itself (score 100)."""
        return self.grade({name: 1.0 for name, _ in self.weights})


#: Feature order of the reference model ("prose" is the share of words in real sentences).
REFERENCE_FEATURES = ("cosine", "cosine_demoted", "soft_recall", "lexical_recall", "prose")
REFERENCE_MODEL = ReferenceModel(
    intercept=2.3384,
    weights=(
        ("cosine", 0.4887),
        ("cosine_demoted", 0.9789),
        ("soft_recall", 3.5514),
        ("lexical_recall", -2.2219),
        ("prose", 0.3224),
    ),
)


def reference_score(
    features: dict[str, float],
    prose_share: float,
    relatedness: float,
    model: ReferenceModel = REFERENCE_MODEL,
) -> float:
    """0-100 from the reference model, anchored so that an answer sharing nothing with the
    reference scores 0 and the reference itself 100 (a monotone map of the fitted grade, so the
    ranking the fit learnt is kept). Unrelated answers get 0; term lists are scaled down."""
    if relatedness < UNRELATED_THRESHOLD:
        return 0.0
    grade = model.grade({**features, "prose": prose_share})
    span = model.reference_itself - model.no_overlap
    share = _clip01((grade - model.no_overlap) / span) if span > 0 else 0.0
    return 100.0 * share * min(1.0, LIST_FLOOR_FACTOR + prose_share)


#: Below this :meth:`OfflineGrader.relatedness` calls an answer unrelated to the question.
UNRELATED_THRESHOLD = 0.10
#: Share of a rubric-mode score that comes from the reference-similarity score.
REFERENCE_BLEND = 0.2
#: A key point's support (0-1) needed for a covered or a partial verdict.
COVERED_SUPPORT = 0.44
PARTIAL_SUPPORT = 0.33
#: The most support a passage gets for a statement with names (Swish, BERT) it never uses:
#: below a partial verdict.
UNNAMED_SUPPORT = PARTIAL_SUPPORT - 0.01
#: Names are compared by this many first letters of their stems.
NAME_PREFIX = 5
#: Within a window's support, the share of lexical term coverage (the rest is embedding cosine).
LEXICAL_SHARE = 0.6
#: Cosine range mapped onto 0-1 for a window's similarity to a key point.
POINT_COSINE_RANGE = (0.25, 0.8)
#: Cosine range for a word to count as a soft match of a key term, and the most it earns.
WORD_COSINE_RANGE = (0.4, 0.75)
SOFT_MATCH_CREDIT = 0.85
#: Groups of words that say the same thing in machine-learning answers but that neither the
#: stemmer nor the static word vectors relate (their cosines are mostly below 0.3, far under
#: :data:`WORD_COSINE_RANGE`). A statement's term shown by another word of its group earns
#: :data:`RELATED_TERM_CREDIT`. General vocabulary only: nothing here names a bank question.
RELATED_TERMS: tuple[tuple[str, ...], ...] = (
    ("kernel", "filter"),
    ("dimension", "axis", "axes"),
    ("slide", "move", "sweep", "travel"),
    ("general", "generic", "universal", "transferable"),
    ("feature", "pattern", "representation"),
    ("early", "earlier", "initial", "bottom"),
    ("late", "last", "final", "top"),
    ("expensive", "costly", "cost", "pricey"),
    ("backward", "backpropagation", "backprop"),
    ("decay", "fade", "die"),
    ("scale", "standardise", "standardize", "normalise", "normalize", "rescale"),
    ("misaligned", "mismatched", "shuffled", "swapped"),
    ("compound", "multiply", "snowball", "accumulate"),
    ("loop", "iterate", "repeat", "cycle"),
    ("call", "invoke"),
    ("execute", "run"),
    ("validate", "check", "verify"),
    ("append", "feed"),
    ("frozen", "freeze"),
    ("head", "classifier"),
    ("label", "target", "annotation"),
    ("parameter", "weight"),
    ("variance", "spread", "variability"),
    ("reuse", "transfer", "recycle"),
    ("start", "initialization", "initialise", "initialize", "init"),
    ("picture", "image", "photo"),
    ("audio", "sound"),
    ("garbage", "junk", "nonsense", "meaningless"),
    ("hole", "gap"),
    ("continuous", "smooth"),
)
RELATED_TERM_CREDIT = 0.9
#: Longest acronym matched against the initials of a statement's words.
MAX_ACRONYM_LETTERS = 5
_ACRONYM_RE = re.compile(r"\b([A-Z]{2,5})s?\b")
#: Key terms that also occur in the question prove less: they count this much.
QUESTION_TERM_WEIGHT = 0.5
#: Words so common in machine-learning text that they prove little about a key point.
GENERIC_TERMS = frozenset(
    [
        "model",
        "data",
        "train",
        "training",
        "network",
        "neural",
        "learn",
        "learning",
        "layer",
        "input",
        "output",
        "value",
        "function",
        "method",
        "way",
        "result",
        "example",
        "number",
        "make",
        "time",
        "set",
        "work",
        "give",
        "use",
        "used",
        "using",
        "get",
        "thing",
        "different",
        "good",
        "better",
        "high",
        "low",
        "new",
        "first",
        "one",
        "two",
        "type",
        "kind",
        "case",
        "problem",
        "approach",
    ]
)
GENERIC_TERM_WEIGHT = 0.4
#: Evidence windows: runs of this many consecutive sentences; each sentence beyond the first
#: lowers a window's support by this much, so the tightest passage wins a tie.
WINDOW_SIZES = (1, 2, 3)
WINDOW_EXTRA_SENTENCE_COST = 0.02
#: A piece of a key point is a fact of its own (see :func:`_point_parts`) with at least this
#: many distinctive words.
MIN_PART_TERMS = 2
#: Support each part of a bundled key point needs (between the partial and covered levels:
#: a part has fewer words to match than the whole point, and the whole point must already
#: have been judged partial).
PART_SUPPORT = 0.38
#: Clause windows inside one sentence: single clauses, each with at least this many content words
#: (a lone "ResNet" between commas is not a claim). Pairs of neighbouring clauses too, ``(1, 2)``,
#: gained 0.4 points on the dev answers for twice the grading time (25.6 -> 47.2 ms an answer).
CLAUSE_WINDOW_SIZES: tuple[int, ...] = (1,)
MIN_CLAUSE_WORDS = 3
#: Only sentences with at least this many content words are split into clauses: a shorter one
#: is already about one thing, and its clauses alone lose the context that says which.
MIN_SPLIT_SENTENCE_WORDS = 12
#: Where a sentence splits into clauses: punctuation (a comma not inside a number), dashes, and
#: joining words that open a new clause (the word stays with the clause it opens).
_CLAUSE_CUT_RE = re.compile(
    r"[;:]\s|,(?!\d{3})\s*|\s[-–—]\s"
    r"|(?<=\s)(?P<word>because|since|so that|so|which|whereas|while|but|and then|then|"
    r"instead of|rather than|otherwise|whose|where)\b"
)
#: Weight of each of a key point's numbers among its terms (a term weighs at most 1).
NUMBER_TERM_WEIGHT = 1.5
#: Points (of 100) lost per key point the answer contradicts, and the most lost that way: more
#: than the rubric's factual-error penalty, since a fluent answer that gets the central claim
#: wrong otherwise keeps the credit its correct vocabulary earns elsewhere.
CONTRADICTION_PENALTY = 20
MAX_CONTRADICTION_PENALTY = 60
#: The claim reader's reason when a passage says of one role (overfitting, encoder, forward)
#: what the key point says of the other.
ROLES_EXCHANGED = "roles exchanged"
#: Message of the error raised for a question only an LLM can grade fairly.
LLM_ONLY_MESSAGE = (
    "This question needs the AI grader: its answer is a story or a design whose parts "
    "(situation, action, result) word matching cannot judge fairly, so it is not scored offline."
)
#: Longest evidence quote, in characters.
MAX_EVIDENCE_CHARS = 240
#: An answer whose content words are mostly (more than this share) in list-like sentences is a
#: term list: key points it shows only in list-like sentences earn at most a partial verdict.
TERM_LIST_PROSE_SHARE = 0.5
#: Multiplier of the reference-similarity score for an answer made only of term lists; it rises
#: with the answer's prose share and reaches 1 at a share of 1 - LIST_FLOOR_FACTOR.
LIST_FLOOR_FACTOR = 0.5

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "either",
        "else",
        "etc",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "per",
        "same",
        "shall",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "thus",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
    ]
)

#: Synonyms-lite: word forms mapped to one canonical word before stemming.
SYNONYMS: dict[str, str] = {
    "grad": "gradient",
    "grads": "gradient",
    "param": "parameter",
    "params": "parameter",
    "dim": "dimension",
    "dims": "dimension",
    "dimensionality": "dimension",
    "conv": "convolution",
    "convolutional": "convolution",
    "convolve": "convolution",
    "init": "initialization",
    "prob": "probability",
    "probs": "probability",
    "avg": "average",
    "big": "large",
    "bigger": "large",
    "larger": "large",
    "largest": "large",
    "huge": "large",
    "smaller": "small",
    "smallest": "small",
    "tiny": "small",
    "reduce": "decrease",
    "reduces": "decrease",
    "reduced": "decrease",
    "reducing": "decrease",
    "reduction": "decrease",
    "lower": "decrease",
    "lowers": "decrease",
    "shrink": "decrease",
    "shrinks": "decrease",
    "raise": "increase",
    "raises": "increase",
    "grow": "increase",
    "grows": "increase",
    "avoid": "prevent",
    "avoids": "prevent",
    "stops": "prevent",
    "faster": "fast",
    "quicker": "fast",
    "quick": "fast",
    "mistake": "error",
    "mistakes": "error",
    "zeros": "zero",
    "zeroes": "zero",
    "zeroed": "zero",
    "zeroing": "zero",
    "matrices": "matrix",
    "indices": "index",
    "vertices": "vertex",
    "optimiser": "optimizer",
    "optimisers": "optimizer",
    "behaviour": "behavior",
    "neurons": "neuron",
    "used": "use",
    "uses": "use",
    "using": "use",
    "nn": "network",
    "nns": "network",
    "overfit": "overfitting",
    "overfits": "overfitting",
    "underfit": "underfitting",
}

_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?")
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_BRITISH_IZE_RE = re.compile(r"is(e|ed|es|ing|ation|ations|er|ers)$")
_IRREGULAR = {"children": "child", "data": "data", "bias": "bias", "analysis": "analysis"}


def stem(word: str) -> str:
    """A light suffix-stripping stemmer (Porter-like, tuned for technical English)."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 6:
        word = _BRITISH_IZE_RE.sub(r"iz\1", word)
    if len(word) <= 3:
        return word
    for suffix, replacement in (
        ("izations", "iz"),
        ("ization", "iz"),
        ("ational", "ate"),
        ("ations", ""),
        ("ation", ""),
        ("fulness", "ful"),
        ("iveness", "ive"),
        ("ness", ""),
        ("ments", ""),
        ("ment", ""),
        ("ingly", ""),
        ("edly", ""),
        ("ing", ""),
        ("ies", "y"),
        ("ied", "y"),
        ("ed", ""),
        ("ly", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + replacement
            break
    else:
        if word.endswith("sses") or (
            word.endswith("es") and re.search(r"(?:s|x|z|ch|sh)es$", word) and len(word) > 4
        ):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
            word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if word.endswith("ate") and len(word) > 6:
        word = word[:-3]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


@dataclass(frozen=True)
class Token:
    """A word of a text: its span, lowercase form, normalised stem ('' for a stop word)."""

    start: int
    end: int
    lower: str
    norm: str

    @property
    def is_stop(self) -> bool:
        return not self.norm


@lru_cache(maxsize=65536)
def _normalise(lower: str) -> str:
    if lower.endswith("'s"):
        lower = lower[:-2]
    if lower in STOP_WORDS or lower.endswith("n't"):
        return ""
    return stem(SYNONYMS.get(lower, lower))


def tokenize(text: str) -> list[Token]:
    """Words with their character spans; stop words get an empty ``norm``. Formulas come out in
    one canonical notation (see :mod:`bot.grading.notation`)."""
    return [
        Token(start, end, lower, _normalise(lower)) for start, end, lower in notation_words(text)
    ]


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    tokens: tuple[Token, ...]
    list_like: bool

    @cached_property
    def content(self) -> tuple[Token, ...]:
        return tuple(token for token in self.tokens if token.norm)


def split_sentences(text: str) -> list[Sentence]:
    """The sentences (and lines) of ``text`` as :func:`bot.grading.evidence.sentence_bounds`
    finds them, each with its bullet stripped, its tokens and whether it is list-like
    (:func:`bot.grading.keyword_lists.keyword_list_sentences`)."""
    spans: list[tuple[int, str]] = []
    for begin, end in sentence_bounds(text):
        chunk = text[begin:end]
        bullet = _BULLET_RE.match(chunk)
        if bullet:
            chunk = chunk[bullet.end() :]
        stripped = chunk.strip()
        if stripped and _WORD_RE.search(stripped):
            spans.append((end - len(chunk) + chunk.index(stripped), stripped))
    listed = keyword_list_sentences([stripped for _, stripped in spans])
    sentences = []
    for (offset, stripped), list_like in zip(spans, listed, strict=True):
        tokens = tuple(
            Token(token.start + offset, token.end + offset, token.lower, token.norm)
            for token in tokenize(stripped)
        )
        sentences.append(Sentence(offset, offset + len(stripped), stripped, tokens, list_like))
    return sentences


def _prose_share(sentences: Sequence[Sentence]) -> float:
    """Share of the answer's content words that sit in real sentences rather than term lists."""
    total = sum(len(s.content) for s in sentences)
    prose = sum(len(s.content) for s in sentences if not s.list_like)
    return prose / total if total else 0.0


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _scale(value: float, low: float, high: float) -> float:
    return _clip01((value - low) / (high - low))


@dataclass(frozen=True)
class _PointTerms:
    words: tuple[str, ...]
    norms: tuple[str, ...]
    weights: np.ndarray
    #: per term, the other norms of its group in :data:`RELATED_TERMS` (empty when none)
    related: tuple[frozenset[str], ...] = ()
    #: runs of the statement's words a passage may abbreviate ("ACF" for autocorrelation
    #: function), each with the indices of the terms it stands for
    acronyms: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = ()
    #: indices of the terms the statement writes as acronyms (three to five capitals)
    own_acronyms: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Statement:
    """One way of stating a key point (its text or an ``accept`` form), ready to match."""

    text: str
    terms: _PointTerms
    marks: Marks
    #: its numbers written with digits, less those the question itself gives
    required: tuple[Quantity, ...]
    #: its distinctive names (Swish, BERT, MobileNet, L2) the question does not use: a passage
    #: that names none of them does not make the point
    names: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class _Window:
    """A passage of the answer a key point is matched against: a run of sentences, or one
    clause (or two neighbouring clauses) of a sentence."""

    start: int
    end: int
    text: str
    word_ids: tuple[int, ...]
    norms: frozenset[str]
    list_like: bool
    size: int = 1
    #: for a clause window, the whole sentence it belongs to: what the claim reader compares
    #: (a negation or a reversed direction elsewhere in the sentence still counts)
    sentence: str = ""

    @property
    def is_clause(self) -> bool:
        return bool(self.sentence)

    @property
    def claim_text(self) -> str:
        """The text whose claims (numbers, directions, negations) are compared."""
        return self.sentence or self.text


@dataclass(frozen=True)
class _PointMatch:
    support: float
    window: _Window
    statement: _Statement


def _relatedness(features: dict[str, float], embedder: StaticEmbedder | None) -> float:
    if embedder is None:
        return features["lexical_recall"]
    return 0.5 * features["cosine"] + 0.5 * features["soft_recall_full"]


@dataclass(frozen=True)
class Analysis:
    """Everything the grader measured about one answer (also used by the benchmarks)."""

    score: int
    verdicts: tuple[KeyPointVerdict, ...]
    similarity: float
    reference_score: float
    relatedness: float
    prose_share: float
    features: dict[str, float]
    #: key points the answer contradicts (offline: a wrong number, an opposite claim)
    factual_errors: tuple[FactualError, ...] = ()


class OfflineGrader:
    """Grades without any network call; see the module docstring for the method."""

    name = "offline"

    def __init__(self, embedder: StaticEmbedder | None = None, *, use_embeddings: bool = True):
        self._embedder = embedder
        self._use_embeddings = use_embeddings

    @property
    def model(self) -> str:
        embedder = self._get_embedder()
        return embedder.model_id if embedder is not None else "lexical"

    def _get_embedder(self) -> StaticEmbedder | None:
        if not self._use_embeddings:
            return None
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        """Grade in a worker thread so the event loop stays free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_cpu_executor(), self.grade_sync, item, answer)

    def grade_sync(self, item: GradingItem, answer: str) -> Grade:
        """The blocking grading routine (CPU only).

        Raises :class:`LLMRequiredError` for an LLM-only question (a behavioural story, an open
        design): scoring its label-like key points by word matching would be unfair."""
        if item.llm_only:
            raise LLMRequiredError(LLM_ONLY_MESSAGE)
        analysis = self.analyse(item, answer)
        details = {
            "similarity": round(analysis.similarity, 4),
            "relatedness": round(analysis.relatedness, 4),
            "reference_score": round(analysis.reference_score, 2),
            "prose": round(analysis.prose_share, 4),
            "semantic": 1.0 if self._get_embedder() is not None else 0.0,
        }
        if item.key_points:
            details["coverage"] = round(
                score_verdicts(item.key_points, analysis.verdicts) / 100.0, 4
            )
        flags: list[str] = []
        if answer.strip() and analysis.relatedness < UNRELATED_THRESHOLD:
            flags.append("unrelated")
        if answer.strip() and analysis.prose_share < TERM_LIST_PROSE_SHARE:
            flags.append("term-list")
        return Grade(
            score=analysis.score,
            verdicts=analysis.verdicts,
            feedback=self._feedback(item, analysis, flags),
            grader=self.name,
            model=self.model,
            flags=tuple(flags),
            factual_errors=analysis.factual_errors,
            details=details,
        )

    def relatedness(self, item: GradingItem, answer: str) -> float:
        """0-1 similarity of the answer to the reference; below UNRELATED_THRESHOLD = off-topic.

        The same value as ``analyse(...).relatedness``, without judging every key point (the LLM
        grader asks for it with every grade)."""
        embedder = self._get_embedder()
        if not answer.strip() or not _WORD_RE.search(answer):
            return 0.0
        sentences = split_sentences(answer)
        if embedder is None:
            features = self._reference_features(item, answer, sentences, embedder)
        else:
            # only the two features relatedness reads (the demoted ones cost another
            # embedding of the answer and another word match, and are not used here)
            answer_content = [t for s in sentences for t in s.tokens if not t.is_stop]
            features = _whole_reference_features(item, answer, answer_content, embedder)
        return _clip01(_relatedness(features, embedder))

    def is_unrelated(self, item: GradingItem, answer: str) -> bool:
        return self.relatedness(item, answer) < UNRELATED_THRESHOLD

    # --- measurement -------------------------------------------------------------------

    def analyse(self, item: GradingItem, answer: str) -> Analysis:
        """Measure an answer against an item; pure and deterministic."""
        embedder = self._get_embedder()
        if not answer.strip() or not _WORD_RE.search(answer):
            verdicts = tuple(
                KeyPointVerdict(point.text, Coverage.MISSING, "", _hint(point, item.reference))
                for point in item.key_points
            )
            return Analysis(0, verdicts, 0.0, 0.0, 0.0, 0.0, {})
        sentences = split_sentences(answer)
        prose_share = _prose_share(sentences)
        features = self._reference_features(item, answer, sentences, embedder)
        similarity = sum(
            w * features[k] for w, k in zip(SIMILARITY_WEIGHTS, _FEATURES, strict=True)
        )
        relatedness = _relatedness(features, embedder)
        reference_points = reference_score(features, prose_share, relatedness)
        errors: tuple[FactualError, ...] = ()
        if item.key_points:
            judged = [
                self._verdict(item, point, sentences, answer, embedder) for point in item.key_points
            ]
            verdicts = tuple(verdict for verdict, _ in judged)
            errors = tuple(error for _, error in judged if error is not None)
            rubric = score_verdicts(item.key_points, verdicts)
            # similarity to the reference adds at most what the rubric found: an answer close in
            # vocabulary but wrong on the points does not climb on its wording
            reference_part = min(reference_points, rubric)
            blended = (1.0 - REFERENCE_BLEND) * rubric + REFERENCE_BLEND * reference_part
            penalty = min(MAX_CONTRADICTION_PENALTY, CONTRADICTION_PENALTY * len(errors))
            # an answer that covers no key point at all scores 0, however close its vocabulary
            score = round(blended - penalty) if rubric > 0 else 0
        else:
            verdicts = ()
            score = round(reference_points)
        return Analysis(
            score=max(0, min(100, score)),
            verdicts=verdicts,
            similarity=similarity,
            reference_score=reference_points,
            relatedness=_clip01(relatedness),
            prose_share=prose_share,
            features=features,
            factual_errors=errors,
        )

    def _reference_features(
        self,
        item: GradingItem,
        answer: str,
        sentences: Sequence[Sentence],
        embedder: StaticEmbedder | None,
    ) -> dict[str, float]:
        question_norms = _question_norms(item.prompt)
        answer_tokens = [t for s in sentences for t in s.tokens]
        answer_content = [t for t in answer_tokens if not t.is_stop]
        reference_content = _content_tokens(item.reference)
        demoted_reference = [t for t in reference_content if t.norm not in question_norms]
        targets = demoted_reference or reference_content
        answer_norms = {t.norm for t in answer_content}
        lexical = sum(t.norm in answer_norms for t in targets) / len(targets) if targets else 0.0
        if embedder is None:
            return {
                "cosine": lexical,
                "cosine_demoted": lexical,
                "soft_recall": lexical,
                "soft_recall_full": lexical,
                "lexical_recall": lexical,
            }
        whole = _whole_reference_features(item, answer, answer_content, embedder)
        cosine = whole["cosine"]
        demoted_answer = _demoted_text(answer, question_norms)
        demoted_ref = _demoted_reference(item.reference, question_norms)
        if demoted_answer and demoted_ref:
            cosine_demoted = max(0.0, embedder.similarity(demoted_answer, demoted_ref))
        else:
            cosine_demoted = cosine
        return {
            "cosine": cosine,
            "cosine_demoted": cosine_demoted,
            "soft_recall": _soft_recall(embedder, targets, answer_content),
            "soft_recall_full": whole["soft_recall_full"],
            "lexical_recall": lexical,
        }

    def _verdict(
        self,
        item: GradingItem,
        point: KeyPoint,
        sentences: Sequence[Sentence],
        answer: str,
        embedder: StaticEmbedder | None,
    ) -> tuple[KeyPointVerdict, FactualError | None]:
        """The verdict on one key point, and a factual error when the answer states its
        opposite: judged whole (:meth:`_whole_verdict`), then, when that falls short of covered
        and the point bundles several facts, by its parts (:meth:`_parts_verdict`)."""
        verdict, error = self._whole_verdict(item, point, sentences, answer, embedder)
        if verdict.status is not Coverage.PARTIAL or error is not None:
            return verdict, error
        by_parts = self._parts_verdict(item, point, sentences, answer, embedder)
        return (by_parts if by_parts is not None else verdict), None

    def _parts_verdict(
        self,
        item: GradingItem,
        point: KeyPoint,
        sentences: Sequence[Sentence],
        answer: str,
        embedder: StaticEmbedder | None,
    ) -> KeyPointVerdict | None:
        """A key point that bundles facts ("two ways: feature extraction with a frozen network,
        or fine-tuning some or all layers"), judged partial as a whole, judged fact by fact:
        each part (:func:`_point_parts`) must be plainly stated somewhere, at :data:`PART_SUPPORT`
        and without a contradiction. All parts stated: covered, with the sentence stating the
        weightiest part as evidence. None when the point has fewer than two parts or a part is
        not stated (parts never lift a point the answer misses as a whole: short parts are
        easy to match by chance)."""
        parts = _point_parts(point.text, item.prompt)
        if len(parts) < 2:
            return None
        windows, vocabulary = _windows_of(answer)
        term_list_answer = _prose_share(sentences) < TERM_LIST_PROSE_SHARE
        word_vectors = (
            embedder.embed_words(vocabulary) if embedder is not None and vocabulary else None
        )
        stated: list[_PointMatch] = []
        for part in parts:
            statement = _statement(part, item.prompt)
            term_sims = None
            if word_vectors is not None and statement.terms.words:
                term_sims = embedder.embed_words(statement.terms.words) @ word_vectors.T  # type: ignore[union-attr]
            matches = sorted(
                (
                    _PointMatch(_support(statement, window, embedder, term_sims), window, statement)
                    for window in windows
                ),
                key=lambda match: -match.support,
            )
            found = next(
                (
                    m
                    for m in matches
                    if m.support >= PART_SUPPORT
                    and not (m.window.list_like and term_list_answer)
                    and _states_plainly(m, item.prompt)
                ),
                None,
            )
            if found is not None:
                stated.append(found)
            else:
                return None
        weightiest = max(stated, key=lambda m: float(m.statement.terms.weights.sum()))
        evidence = _evidence(
            answer, _best_sentence(weightiest, windows, vocabulary, embedder), weightiest
        )
        return KeyPointVerdict(point.text, Coverage.COVERED, evidence, "")

    def _whole_verdict(
        self,
        item: GradingItem,
        point: KeyPoint,
        sentences: Sequence[Sentence],
        answer: str,
        embedder: StaticEmbedder | None,
    ) -> tuple[KeyPointVerdict, FactualError | None]:
        """The verdict on a key point as one statement. The point's text and each of its
        ``accept`` forms are equivalent statements; the best-supported one decides."""
        statements = [_statement(text, item.prompt) for text in (point.text, *point.accept)]
        term_list_answer = _prose_share(sentences) < TERM_LIST_PROSE_SHARE
        windows, vocabulary = _windows_of(answer)
        word_vectors = (
            embedder.embed_words(vocabulary) if embedder is not None and vocabulary else None
        )
        candidates: list[_PointMatch] = []
        for statement in statements:
            term_sims = None
            if word_vectors is not None and statement.terms.words:
                term_sims = embedder.embed_words(statement.terms.words) @ word_vectors.T  # type: ignore[union-attr]
            for window in windows:
                support = _support(statement, window, embedder, term_sims)
                candidates.append(_PointMatch(support, window, statement))
        candidates.sort(key=lambda match: -match.support)
        best = candidates[0] if candidates else None
        if best is None or best.support < PARTIAL_SUPPORT:
            return KeyPointVerdict(
                point.text, Coverage.MISSING, "", _hint(point, item.reference)
            ), None
        comparison = _compare(best, item.prompt)
        if comparison.contradicts:
            # the strongest passage says the opposite; another passage that states the point
            # plainly (a correct answer may contrast both sides) still counts. A passage that
            # only talks about the other role ("backward: ... layer by layer" for a point on the
            # forward pass) says nothing against a weaker passage on the right role.
            roles_only = set(comparison.reasons) == {ROLES_EXCHANGED}
            needed = PARTIAL_SUPPORT if roles_only else COVERED_SUPPORT
            alternative = next(
                (
                    m
                    for m in candidates
                    if m.support >= needed
                    and (m.window.end <= best.window.start or m.window.start >= best.window.end)
                    and _states_plainly(m, item.prompt)
                ),
                None,
            )
            if alternative is None and _agrees_with_reference(best, item, embedder):
                alternative = best
            if alternative is None:
                quote = _evidence(answer, _best_sentence(best, windows, vocabulary, embedder), best)
                error = FactualError(quote=quote, correction=point.text)
                hint = _hint(point, item.reference, contradicted=True)
                return KeyPointVerdict(point.text, Coverage.MISSING, "", hint), error
            best = alternative
            comparison = _compare(best, item.prompt)
        match = best
        status = Coverage.COVERED if best.support >= COVERED_SUPPORT else Coverage.PARTIAL
        if best.window.list_like and term_list_answer:
            status = Coverage.PARTIAL  # shown only in a bare list of terms
        if (
            status is Coverage.COVERED
            and comparison.numbers_missing
            and not comparison.numbers_found
        ):
            status = Coverage.PARTIAL  # the point's numbers are not there
        evidence = _evidence(answer, _best_sentence(match, windows, vocabulary, embedder), match)
        hint = "" if status is Coverage.COVERED else _hint(point, item.reference, partial=True)
        return KeyPointVerdict(point.text, status, evidence, hint), None

    # --- feedback ----------------------------------------------------------------------

    @staticmethod
    def _feedback(item: GradingItem, analysis: Analysis, flags: Sequence[str]) -> str:
        if analysis.relatedness == 0.0 and analysis.score == 0 and not analysis.features:
            return "No answer to grade: write a few sentences in your own words."
        parts: list[str] = []
        if "unrelated" in flags:
            parts.append("This answer does not seem to address the question.")
        if item.key_points:
            parts.append(rubric_feedback(analysis.verdicts))
        else:
            band = analysis.score
            if band >= 80:
                parts.append("Close to the reference answer.")
            elif band >= 50:
                parts.append("Partly matches the reference answer; compare it for what is missing.")
            else:
                parts.append("Far from the reference answer; review it and try again.")
        if "term-list" in flags:
            parts.append("Explain in full sentences: a list of terms earns at most partial credit.")
        return " ".join(parts)


_FEATURES = ("cosine", "cosine_demoted", "soft_recall")
_EXECUTOR: ThreadPoolExecutor | None = None


def _cpu_executor() -> ThreadPoolExecutor:
    """One thread for all offline grading in the process. The work is Python-heavy, so more
    threads would not grade faster (the GIL), but they would take turns with the event loop's
    thread and delay it; with one, the loop gets the GIL back within a switch interval."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="offline-grader")
    return _EXECUTOR


_GENERIC_NORMS = frozenset(_normalise(word) for word in GENERIC_TERMS)


def _related_norms() -> dict[str, frozenset[str]]:
    groups: dict[str, frozenset[str]] = {}
    for group in RELATED_TERMS:
        norms = frozenset(_normalise(word) for word in group) - {""}
        for norm in norms:
            groups[norm] = groups.get(norm, frozenset()) | norms
    return groups


_RELATED_NORMS = _related_norms()


@lru_cache(maxsize=2048)
def _content_tokens(text: str) -> tuple[Token, ...]:
    return tuple(t for t in tokenize(text) if not t.is_stop)


@lru_cache(maxsize=2048)
def _question_norms(prompt: str) -> frozenset[str]:
    return frozenset(t.norm for t in tokenize(prompt) if not t.is_stop)


def _demoted_text(text: str, question_norms: frozenset[str]) -> str:
    return " ".join(t.lower for t in tokenize(text) if t.is_stop or t.norm not in question_norms)


@lru_cache(maxsize=2048)
def _demoted_reference(reference: str, question_norms: frozenset[str]) -> str:
    """:func:`_demoted_text` of a reference, kept: every answer to the question needs it."""
    return _demoted_text(reference, question_norms)


def _whole_reference_features(
    item: GradingItem, answer: str, answer_content: Sequence[Token], embedder: StaticEmbedder
) -> dict[str, float]:
    """The answer against the whole reference (what relatedness reads): the texts' cosine and
    the reference words' soft recall in the answer."""
    return {
        "cosine": max(0.0, embedder.similarity(answer, item.reference)),
        "soft_recall_full": _soft_recall(embedder, _content_tokens(item.reference), answer_content),
    }


def _soft_recall(
    embedder: StaticEmbedder, targets: Sequence[Token], answer_content: Sequence[Token]
) -> float:
    """Mean over target words of the best match in the answer (1 for the same stem)."""
    if not targets or not answer_content:
        return 0.0
    target_words = [t.lower for t in targets]
    answer_words = sorted({t.lower for t in answer_content})
    sims = embedder.embed_words(target_words) @ embedder.embed_words(answer_words).T
    best = sims.max(axis=1)
    answer_norms = {t.norm for t in answer_content}
    exact = np.array([t.norm in answer_norms for t in targets], dtype=np.float32)
    return float(np.clip(np.maximum(best, exact), 0.0, 1.0).mean())


@lru_cache(maxsize=4096)
def _point_terms(text: str, prompt: str) -> _PointTerms:
    question_norms = _question_norms(prompt)
    seen: dict[str, str] = {}
    for token in tokenize(text):
        # numbers are matched by value (see _Statement.required), not as words
        if not token.is_stop and not token.norm.isdigit() and token.norm not in seen:
            seen[token.norm] = token.lower
    norms = tuple(seen)
    weights = np.array(
        [
            (QUESTION_TERM_WEIGHT if norm in question_norms else 1.0)
            * (GENERIC_TERM_WEIGHT if norm in _GENERIC_NORMS else 1.0)
            for norm in norms
        ],
        dtype=np.float32,
    )
    related = tuple(_RELATED_NORMS.get(norm, frozenset()) - {norm} for norm in norms)
    written = _acronyms_in(text)
    own_acronyms = tuple(
        i
        for i, word in enumerate(seen.values())
        if word.isalpha() and 3 <= len(word) <= MAX_ACRONYM_LETTERS and word in written
    )
    return _PointTerms(
        tuple(seen.values()), norms, weights, related, _acronyms_of(text, norms), own_acronyms
    )


def _acronyms_of(
    text: str, norms: Sequence[str]
) -> tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]:
    """Every run of two to five consecutive content words of a statement (words of three
    letters or more, so "K and V" is no "KV"), with the indices of their terms: a passage
    writing an acronym of a run ("ACF" for "autocorrelation function") shows those terms."""
    index = {norm: i for i, norm in enumerate(norms)}
    content = [t for t in tokenize(text) if not t.is_stop and t.norm in index]
    found = []
    for size in range(2, MAX_ACRONYM_LETTERS + 1):
        for start in range(len(content) - size + 1):
            run = content[start : start + size]
            if all(len(t.lower) >= 3 and t.lower[0].isalpha() for t in run):
                found.append((tuple(t.lower for t in run), tuple(index[t.norm] for t in run)))
    return tuple(found)


@lru_cache(maxsize=65536)
def _abbreviates(acronym: str, words: tuple[str, ...]) -> bool:
    """Whether an acronym is made of the words in order: each word gives its first letter and
    maybe more of its letters after it ("ACF": AutoCorrelation Function; "GAN": Generative
    Adversarial Network)."""
    if not words:
        return not acronym
    if not acronym or acronym[0] != words[0][0]:
        return False
    word, rest = words[0], acronym[1:]
    # the word may give further letters, in order, before the next word takes over
    for taken in range(len(rest) + 1):
        position, ok = 1, True
        for letter in rest[:taken]:
            position = word.find(letter, position) + 1
            if position == 0:
                ok = False
                break
        if ok and _abbreviates(rest[taken:], words[1:]):
            return True
    return False


@lru_cache(maxsize=8192)
def _acronyms_in(text: str) -> frozenset[str]:
    """Acronyms a passage writes (two to five capitals, an optional plural s), lower-cased."""
    return frozenset(m.group(1).lower() for m in _ACRONYM_RE.finditer(text))


_CLAIMS = ClaimReader(stem)


@lru_cache(maxsize=4096)
def _marks_of(text: str) -> Marks:
    """Numbers, opposite-pole words and negations of a text (see :mod:`bot.grading.claims`)."""
    return _CLAIMS.read(text, tokenize(text))


@lru_cache(maxsize=2048)
def _given_quantities(prompt: str) -> tuple[Quantity, ...]:
    """Numbers the question itself states: repeating them proves nothing."""
    return tuple(q for q in find_quantities(prompt) if q.digits)


_PART_CUT_RE = re.compile(r"[;:]\s|,(?!\d{3})\s*|\s(?:while|whereas|but)\s")


@lru_cache(maxsize=4096)
def _point_parts(text: str, prompt: str) -> tuple[str, ...]:
    """The facts a key point bundles: its text cut at ; : and commas (not inside numbers),
    keeping pieces with at least :data:`MIN_PART_TERMS` distinctive words (not generic, not the
    question's). A shorter piece (a list item such as "BERT") joins the part before it, so a
    list stays one fact; a leading short piece ("Two ways:") is dropped."""
    question_norms = _question_norms(prompt)
    parts: list[str] = []
    for piece in _PART_CUT_RE.split(text):
        piece = piece.strip(" .;:,")
        if not piece:
            continue
        distinctive = {
            t.norm
            for t in tokenize(piece)
            if t.norm
            and not t.norm.isdigit()
            and t.norm not in _GENERIC_NORMS
            and t.norm not in question_norms
        }
        if len(distinctive) >= MIN_PART_TERMS:
            parts.append(piece)
        elif parts:
            parts[-1] = f"{parts[-1]}, {piece}"
    return tuple(parts)


@lru_cache(maxsize=4096)
def _statement(text: str, prompt: str) -> _Statement:
    given = _given_quantities(prompt)
    marks = _marks_of(text)
    required = tuple(q for q in marks.quantities if not any(_same_quantity(q, g) for g in given))
    return _Statement(text, _point_terms(text, prompt), marks, required, _names_of(text, prompt))


def _names_of(text: str, prompt: str) -> frozenset[tuple[str, str]]:
    """The words of a statement written as names: an acronym or a word with a capital inside
    (BERT, SiLU, MobileNet), or a capitalised word that does not open the statement (Swish,
    Laplace). Each comes as (its stem's first letters, its capitals when it is an acronym, so
    "RRF" is also shown by "reciprocal rank fusion"). Words the question uses are not
    distinctive."""
    question_norms = _question_norms(prompt)
    names = set()
    for index, token in enumerate(tokenize(text)):
        written = text[token.start : token.end]
        if token.is_stop or len(written) < 3 or token.norm in question_norms:
            continue
        if not written.isalpha() or text[token.end : token.end + 1] in ("(", "_"):
            continue  # a symbol of a formula (W_xh, W0, BN(x)), not a name
        capitals = "".join(c for c in written if c.isupper()).lower()
        inner_capital = len(capitals) >= 2 or (len(capitals) == 1 and not written[0].isupper())
        capitalised = index > 0 and written[0].isupper()
        if inner_capital or capitalised:
            acronym = capitals if len(capitals) >= 2 and written.rstrip("s").isupper() else ""
            if written[0].isupper() and len(capitals) >= 2 and not written.isupper():
                acronym = capitals  # ViT, MoE: the capitals are the initials
            names.add((token.norm[:NAME_PREFIX], acronym))
    return frozenset(names)


def _names_shown(names: frozenset[tuple[str, str]], window: _Window) -> bool:
    """Whether a passage uses one of the names (compared by their first letters, so "Markov"
    shows "non-Markovian"), or spells an acronym out ("cumulative distribution function")."""
    prefixes = _prefixes(window.norms)
    if any(prefix in prefixes for prefix, _ in names):
        return True
    initials = _initials(window.text)
    return any(acronym and acronym in initials for _, acronym in names)


@lru_cache(maxsize=8192)
def _prefixes(norms: frozenset[str]) -> frozenset[str]:
    return frozenset(norm[:NAME_PREFIX] for norm in norms)


@lru_cache(maxsize=8192)
def _initials(text: str) -> str:
    """First letters of a text's content words, in order (for spelled-out acronyms)."""
    return "".join(token.lower[0] for token in tokenize(text) if not token.is_stop)


def _compare(match: _PointMatch, prompt: str) -> Comparison:
    comparison = compare(
        match.statement.marks,
        _marks_of(match.window.claim_text),
        _given_quantities(prompt),
        _question_norms(prompt),
        _marks_of(prompt),
    )
    kept, swapped = _pairings(match.statement.text, match.window.claim_text, prompt)
    if _roles_swapped(match.statement.text, match.window.claim_text, prompt):
        return replace(
            comparison,
            conflicts=comparison.conflicts + 1.0 + comparison.agreements,
            reasons=(*comparison.reasons, ROLES_EXCHANGED),
        )
    if swapped and not kept:
        return replace(
            comparison,
            conflicts=comparison.conflicts + 1.0,
            reasons=(*comparison.reasons, "swapped pairing"),
        )
    if kept and not swapped:
        return replace(comparison, agreements=comparison.agreements + 1.0)
    return comparison


@lru_cache(maxsize=4096)
def _roles_swapped(statement: str, passage: str, prompt: str) -> bool:
    """See :func:`bot.grading.claims.swapped_roles`."""
    return swapped_roles(
        _CLAIMS, statement, tokenize(statement), passage, tokenize(passage), _question_norms(prompt)
    )


@lru_cache(maxsize=4096)
def _pairings(statement: str, passage: str, prompt: str) -> tuple[int, int]:
    """See :func:`bot.grading.claims.swapped_pairings`."""
    return swapped_pairings(
        statement, tokenize(statement), passage, tokenize(passage), _question_norms(prompt)
    )


def _states_plainly(match: _PointMatch, prompt: str) -> bool:
    """A passage that makes the point without contradicting it; a point with numbers needs one
    of them there (a passage with none of them does not state a numeric point plainly)."""
    comparison = _compare(match, prompt)
    if comparison.contradicts:
        return False
    return not match.statement.required or comparison.numbers_found > 0


def _agrees_with_reference(
    match: _PointMatch, item: GradingItem, embedder: StaticEmbedder | None
) -> bool:
    """Whether a passage read as contradicting a key point says what the reference says.

    The claim reader compares surface marks (negations, opposite-pole words, numbers); a key
    point worded "X, not Y" and a passage worded "rather than Y, X" can look opposite to it.
    The reference answer is trusted text: when its own passage for the point reads as
    "contradicting" the point too, the reader has misread the point, and the answer is judged
    against the reference passage instead -- an answer that contradicts the reference is still
    caught there.
    """
    if not item.reference.strip():
        return False
    windows, _ = _windows_of(item.reference)
    if not windows:
        return False
    statement = match.statement
    reference_window = max(windows, key=lambda window: _support(statement, window, embedder, None))
    reference_marks = _marks_of(reference_window.text)
    given = _given_quantities(item.prompt)
    question_norms = _question_norms(item.prompt)
    question_marks = _marks_of(item.prompt)
    if not compare(
        statement.marks, reference_marks, given, question_norms, question_marks
    ).contradicts:
        return False
    against_reference = compare(
        reference_marks, _marks_of(match.window.claim_text), given, question_norms, question_marks
    )
    return not against_reference.contradicts


@lru_cache(maxsize=64)
def _windows_of(answer: str) -> tuple[list[_Window], list[str]]:
    return _windows(answer, split_sentences(answer))


def _windows(answer: str, sentences: Sequence[Sentence]) -> tuple[list[_Window], list[str]]:
    """Runs of neighbouring sentences, the clauses of each sentence (one, and two neighbouring
    ones), and the answer's distinct content words they index.

    A dense sentence often makes several points at once ("X reuses a pretrained model and
    fine-tunes it, because labels are scarce; common choices are A, B"): each point is best
    matched against its own clause, whose embedding is not diluted by the others."""
    vocabulary: dict[str, int] = {}
    for sentence in sentences:
        for token in sentence.content:
            vocabulary.setdefault(token.lower, len(vocabulary))
    windows = []
    for size in WINDOW_SIZES:
        for i in range(len(sentences) - size + 1):
            group = sentences[i : i + size]
            start, end = group[0].start, group[-1].end
            ids = sorted({vocabulary[t.lower] for s in group for t in s.content})
            norms = frozenset(t.norm for s in group for t in s.content)
            list_like = any(s.list_like for s in group)
            windows.append(
                _Window(start, end, answer[start:end], tuple(ids), norms, list_like, size)
            )
    for sentence in sentences:
        if len(sentence.content) < MIN_SPLIT_SENTENCE_WORDS:
            continue
        spans = _clauses(sentence)
        if len(spans) < 2:
            continue
        for size in CLAUSE_WINDOW_SIZES:
            for i in range(len(spans) - size + 1):
                start, end = spans[i][0], spans[i + size - 1][1]
                content = [t for t in sentence.content if start <= t.start and t.end <= end]
                if len(content) < MIN_CLAUSE_WORDS:
                    continue
                ids = sorted({vocabulary[t.lower] for t in content})
                norms = frozenset(t.norm for t in content)
                windows.append(
                    _Window(
                        start,
                        end,
                        answer[start:end],
                        tuple(ids),
                        norms,
                        sentence.list_like,
                        1,
                        sentence.text,
                    )
                )
    return windows, list(vocabulary)


def _clauses(sentence: Sentence) -> list[tuple[int, int]]:
    """Spans of a sentence's clauses: cut at ; : , and dashes (not inside a number such as
    3,136), and before joining words that open a new clause (because, so, which, and then...).
    A joining word stays with the clause it opens; spans are trimmed of spaces and punctuation."""
    text = sentence.text
    cuts = [0]
    for found in _CLAUSE_CUT_RE.finditer(text):
        cuts.append(found.start() if found.group("word") else found.end())
    cuts.append(len(text))
    spans = []
    for begin, end in itertools.pairwise(cuts):
        chunk = text[begin:end]
        stripped = chunk.strip(" \t\n;:,-–—.")
        if not stripped:
            continue
        offset = sentence.start + begin + chunk.index(stripped)
        spans.append((offset, offset + len(stripped)))
    return spans


def _soft_credit(term_sims: np.ndarray) -> np.ndarray:
    low, high = WORD_COSINE_RANGE
    return SOFT_MATCH_CREDIT * np.clip((term_sims - low) / (high - low), 0.0, 1.0)


def _support(
    statement: _Statement,
    window: _Window,
    embedder: StaticEmbedder | None,
    term_sims: np.ndarray | None,
) -> float:
    """How well a window shows a statement, 0-1 (``term_sims``: terms x answer words).

    Lexical coverage counts the statement's terms (exact stems, or a soft match through word
    vectors) and its numbers (equal values in any written form); the rest is the cosine of the
    window and the statement. Each sentence beyond the first costs a little, so the tightest
    passage wins a tie."""
    terms = statement.terms
    if not terms.norms and not statement.required:
        return 0.0
    credit = np.array(
        [
            1.0
            if norm in window.norms
            else RELATED_TERM_CREDIT
            if terms.related and terms.related[i] & window.norms
            else 0.0
            for i, norm in enumerate(terms.norms)
        ]
    )
    if terms.acronyms and len(credit) and credit.min() < 1.0:
        written = _acronyms_in(window.text)
        if written:
            for run, indices in terms.acronyms:
                if any(_abbreviates(acronym, run) for acronym in written):
                    credit[list(indices)] = 1.0
    if terms.own_acronyms and len(credit) and credit.min() < 1.0:
        # the statement's own acronym ("KPSS"), spelled out in the passage
        initials = _initials(window.text)
        for i in terms.own_acronyms:
            if terms.words[i] in initials:
                credit[i] = 1.0
    if term_sims is not None and window.word_ids and len(credit) and credit.min() < 1.0:
        best = term_sims[:, list(window.word_ids)].max(axis=1)
        credit = np.maximum(credit, _soft_credit(best))
    earned = float((credit * terms.weights).sum()) if len(credit) else 0.0
    possible = float(terms.weights.sum()) if len(credit) else 0.0
    if statement.required:
        shown = _marks_of(window.text).quantities
        # a statement that is only a number ("42%") says nothing else: demand it as written
        bare = not terms.norms
        matched = sum(
            any(_same_quantity(wanted, seen, strict=bare) for seen in shown)
            for wanted in statement.required
        )
        earned += NUMBER_TERM_WEIGHT * matched
        possible += NUMBER_TERM_WEIGHT * len(statement.required)
    lexical = earned / possible if possible else 0.0
    extra = WINDOW_EXTRA_SENTENCE_COST * (window.size - 1)
    if embedder is None:
        support = lexical - extra
    else:
        cosine = embedder.similarity(window.text, statement.text)
        semantic = _scale(cosine, *POINT_COSINE_RANGE)
        support = LEXICAL_SHARE * lexical + (1.0 - LEXICAL_SHARE) * semantic - extra
    if statement.names and not _names_shown(statement.names, window):
        # "close to Swish" is not shown by a passage that never names Swish
        support = min(support, UNNAMED_SUPPORT)
    return support


def _best_sentence(
    match: _PointMatch,
    windows: Sequence[_Window],
    vocabulary: Sequence[str],
    embedder: StaticEmbedder | None,
) -> _Window:
    """The single sentence of a matched window that best states the point (the evidence)."""
    if match.window.size == 1:
        return match.window
    inside = [
        w
        for w in windows
        if w.size == 1
        and not w.is_clause
        and match.window.start <= w.start
        and w.end <= match.window.end
    ]
    if not inside:
        return match.window
    term_sims = None
    statement = match.statement
    if embedder is not None and statement.terms.words and vocabulary:
        term_sims = embedder.embed_words(statement.terms.words) @ embedder.embed_words(vocabulary).T
    return max(
        inside,
        key=lambda w: (
            not statement.names or _names_shown(statement.names, w),
            _support(statement, w, embedder, term_sims),
        ),
    )


def _evidence(answer: str, window: _Window, match: _PointMatch) -> str:
    """The window's text, cut around the first matched term when it is too long."""
    if len(window.text) <= MAX_EVIDENCE_CHARS:
        return window.text
    first = window.start
    for token in tokenize(window.text):
        if token.norm in match.statement.terms.norms:
            first = window.start + token.start
            break
    start = max(window.start, first - 40)
    end = min(window.end, start + MAX_EVIDENCE_CHARS)
    while start > window.start and not answer[start - 1].isspace():
        start += 1
        if start >= first:
            break
    while end < window.end and end > start and not answer[end].isspace():
        end -= 1
    return answer[start:end].strip()


def _hint(
    point: KeyPoint, reference: str = "", *, partial: bool = False, contradicted: bool = False
) -> str:
    """Where the reference makes this point (its sentence with most of the point's terms), so the
    hint teaches something the key point's own wording does not."""
    sentence = _reference_sentence(point, reference)
    if contradicted:
        fact = f"“{shorten(sentence, 220)}”" if sentence else f"{shorten(point.text)}."
        return f"Your answer seems to state the opposite; the reference says: {fact}"
    if sentence:
        lead = "Be explicit; the reference says" if partial else "The reference puts it as"
        return f"{lead}: “{shorten(sentence, 220)}”"
    if partial:
        return f"Say it explicitly: {shorten(point.text)}."
    return f"Add this point: {shorten(point.text)}."


def _reference_sentence(point: KeyPoint, reference: str) -> str:
    return _reference_sentence_of(point.text, reference)


@lru_cache(maxsize=4096)
def _reference_sentence_of(point_text: str, reference: str) -> str:
    if not reference:
        return ""
    wanted = {token.norm for token in tokenize(point_text) if not token.is_stop}
    best, best_overlap = "", 0
    for sentence in split_sentences(reference):
        overlap = len(wanted & {token.norm for token in sentence.tokens if not token.is_stop})
        if overlap > best_overlap:
            best, best_overlap = sentence.text.strip(), overlap
    return best if best_overlap >= max(1, len(wanted) // 3) else ""
