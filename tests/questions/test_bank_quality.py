"""The shipped bank: schema, size, topic and difficulty balance per track, rubric shape within
each track's limits (``bot.domain.bank.TRACK_LIMITS``), behavioural STAR rubrics, no near-duplicates
anywhere in the bank.

Near-duplicates: prompts are compared pairwise by TF-IDF cosine over content-word unigrams and
bigrams (English stop words removed). A pair at or above PROMPT_DUPLICATE_THRESHOLD = 0.70 is a
near-duplicate; reference answers are held to REFERENCE_DUPLICATE_THRESHOLD = 0.80. When these
were set, the most similar prompt pair in the bank scored 0.58 (two TF 1.x snippets with
different code) and no distinct questions came close to the thresholds.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bot.domain.bank import TRACK_LIMITS, Bank, Track, load_bank

ROOT = Path(__file__).resolve().parents[2]
PROMPT_DUPLICATE_THRESHOLD = 0.70
REFERENCE_DUPLICATE_THRESHOLD = 0.80
MIN_QUESTIONS = 300
MIN_PER_TOPIC = 6
#: The deep-learning topics the bank started with keep their depth as new tracks arrive.
ORIGINAL_DEEP_LEARNING_TOPICS = frozenset(
    "activations applied-practice attention-transformers cnn evaluation-debugging frameworks "
    "fundamentals generative normalization optimizers regularization rnn scale-inference "
    "tokenization-embeddings".split()
)
MIN_PER_ORIGINAL_TOPIC = 15
DIFFICULTY_TARGET = {"beginner": 0.35, "intermediate": 0.40, "advanced": 0.25}
#: A track of n questions may miss each target share by max(7 points, 1 / sqrt(n)), about two
#: binomial standard deviations, so a small new track is not held to the big track's precision.
DIFFICULTY_TOLERANCE = 0.07
#: Behavioural stories are not graded by depth of knowledge; only the others are balanced.
UNBALANCED_TRACKS = frozenset({Track.BEHAVIOURAL})
MIN_REFERENCE_WORDS = 60
STOP_WORDS = frozenset(
    "a an and are as at be between by can could describe do does explain for from how in into is "
    "it its of on or that the their this to what when which why with would you your".split()
)


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(ROOT / "questions")


def tfidf_matrix(texts: list[str]) -> np.ndarray:
    def terms(text: str) -> list[str]:
        words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP_WORDS]
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    counts = [Counter(terms(text)) for text in texts]
    vocabulary = sorted({term for count in counts for term in count})
    index = {term: i for i, term in enumerate(vocabulary)}
    matrix = np.zeros((len(texts), len(vocabulary)))
    for row, count in enumerate(counts):
        for term, n in count.items():
            matrix[row, index[term]] = 1 + np.log(n)
    document_frequency = (matrix > 0).sum(axis=0)
    matrix *= np.log((1 + len(texts)) / (1 + document_frequency))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def similar_pairs(bank: Bank, texts: list[str], threshold: float) -> list[tuple[str, str, float]]:
    matrix = tfidf_matrix(texts)
    similarity = matrix @ matrix.T
    ids = [question.id for question in bank.questions]
    rows, cols = np.where(np.triu(similarity, k=1) >= threshold)
    return [
        (ids[i], ids[j], round(float(similarity[i, j]), 3)) for i, j in zip(rows, cols, strict=True)
    ]


def test_bank_size_and_topics(bank):
    assert len(bank.questions) >= MIN_QUESTIONS
    per_topic = Counter((question.track.value, question.topic) for question in bank.questions)
    small = {topic: n for topic, n in per_topic.items() if n < MIN_PER_TOPIC}
    assert small == {}, f"topics under {MIN_PER_TOPIC} questions: {small}"
    thin = {
        topic: per_topic[(Track.DEEP_LEARNING.value, topic)]
        for topic in ORIGINAL_DEEP_LEARNING_TOPICS
        if per_topic[(Track.DEEP_LEARNING.value, topic)] < MIN_PER_ORIGINAL_TOPIC
    }
    assert thin == {}, f"original deep-learning topics under {MIN_PER_ORIGINAL_TOPIC}: {thin}"


def test_a_topic_belongs_to_one_track(bank):
    tracks_of: dict[str, set[str]] = {}
    for question in bank.questions:
        tracks_of.setdefault(question.topic, set()).add(question.track.value)
    assert {topic: t for topic, t in tracks_of.items() if len(t) > 1} == {}


@pytest.mark.parametrize("track", [t for t in Track if t not in UNBALANCED_TRACKS])
def test_difficulty_mix_per_track(bank, track):
    questions = [question for question in bank.questions if question.track is track]
    if not questions:
        pytest.fail(f"the shipped bank has no {track.value} questions")
    tolerance = max(DIFFICULTY_TOLERANCE, 1 / len(questions) ** 0.5)
    counts = Counter(question.difficulty.value for question in questions)
    for level, target in DIFFICULTY_TARGET.items():
        share = counts[level] / len(questions)
        assert abs(share - target) <= tolerance, (
            f"{track.value} {level}: {share:.0%} (target {target:.0%} ± {tolerance:.0%})"
        )


def test_reference_lengths_follow_the_track_limits(bank):
    wrong = {
        question.id: len(question.reference.split())
        for question in bank.questions
        if not MIN_REFERENCE_WORDS
        <= len(question.reference.split())
        <= TRACK_LIMITS[question.track].max_reference_words
    }
    assert wrong == {}


def test_rubric_sizes_follow_the_track_limits(bank):
    wrong = {
        q.id: len(q.key_points)
        for q in bank.questions
        if not 3 <= len(q.key_points) <= TRACK_LIMITS[q.track].max_key_points
    }
    assert wrong == {}


def test_behavioural_questions_use_the_structure_rubric(bank):
    behavioural = [q for q in bank.questions if q.track is Track.BEHAVIOURAL]
    assert behavioural, "the bank should have behavioural questions"
    assert all(q.llm_only for q in behavioural)
    for question in behavioural:
        rubric = " ".join(point.text.lower() for point in question.key_points)
        for part in ("situation", "action", "result", "reflect"):
            assert part in rubric, f"{question.id}: the rubric lacks '{part}'"


def test_no_near_duplicate_prompts(bank):
    prompts = [question.prompt for question in bank.questions]
    assert similar_pairs(bank, prompts, PROMPT_DUPLICATE_THRESHOLD) == []


def test_no_near_duplicate_reference_answers(bank):
    references = [question.reference for question in bank.questions]
    assert similar_pairs(bank, references, REFERENCE_DUPLICATE_THRESHOLD) == []


def test_seed_sources_name_real_seed_files(bank):
    seeds = {
        "000_e480b1b35cfebef7.txt",
        "001_cf13cee43194a948.txt",
        "002_570c154298885742.txt",
        "003_a8c25222877d68a1.txt",
        "004_01dc14f27496f22a.txt",
    }
    unknown = {q.id: s for q in bank.questions for s in q.sources if s not in seeds}
    assert unknown == {}
