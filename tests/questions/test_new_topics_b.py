"""The topics added by the bank-topics-b batch exist in their tracks with enough questions, a
real share of intermediate and advanced questions, and a recomputation test for every question
tagged ``numerical``.

Minimums: the four missing areas need at least 9 questions each and the four thin areas at
least 6; every topic needs at least a third of its questions at intermediate level, at least two
advanced ones, and at least a third intermediate-or-advanced. A numerical question counts as
tested when its id appears in a ``tests/questions/test_numeric_*.py`` file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.domain.bank import Bank, Difficulty, Question, Track, load_bank

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent

#: topic -> (track, minimum number of questions)
NEW_TOPICS: dict[str, tuple[Track, int]] = {
    "reasoning-models": (Track.LLM_ENGINEERING, 9),
    "reinforcement-learning": (Track.DEEP_LEARNING, 9),
    "fairness-privacy": (Track.CLASSICAL_ML, 9),
    "mlops": (Track.ML_SYSTEM_DESIGN, 9),
    "mixture-of-experts": (Track.DEEP_LEARNING, 6),
    "vision-transformers": (Track.DEEP_LEARNING, 6),
    "recommender-systems": (Track.DEEP_LEARNING, 6),
    "time-series": (Track.DEEP_LEARNING, 6),
}
MIN_ADVANCED = 2


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(ROOT / "questions")


def topic_questions(bank: Bank, topic: str) -> list[Question]:
    return [question for question in bank.questions if question.topic == topic]


def numeric_test_sources() -> str:
    files = sorted(TESTS.glob("test_numeric_*.py"))
    assert files, "no numeric test files found"
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


@pytest.mark.parametrize("topic", sorted(NEW_TOPICS))
def test_topic_exists_in_its_track_with_enough_questions(bank: Bank, topic: str) -> None:
    track, minimum = NEW_TOPICS[topic]
    questions = topic_questions(bank, topic)
    assert len(questions) >= minimum, f"{topic}: {len(questions)} questions, need {minimum}"
    assert {question.track for question in questions} == {track}
    assert all(question.id.startswith(f"{topic}-") for question in questions)


@pytest.mark.parametrize("topic", sorted(NEW_TOPICS))
def test_topic_difficulty_mix(bank: Bank, topic: str) -> None:
    questions = topic_questions(bank, topic)
    counts = Counter(question.difficulty for question in questions)
    total = len(questions)
    harder = counts[Difficulty.INTERMEDIATE] + counts[Difficulty.ADVANCED]
    assert 3 * counts[Difficulty.INTERMEDIATE] >= total, f"{topic}: {dict(counts)}"
    assert 3 * harder >= total, f"{topic}: {dict(counts)}"
    assert counts[Difficulty.ADVANCED] >= MIN_ADVANCED, f"{topic}: {dict(counts)}"


@pytest.mark.parametrize("topic", sorted(NEW_TOPICS))
def test_topic_has_numerical_questions(bank: Bank, topic: str) -> None:
    numerical = [q for q in topic_questions(bank, topic) if "numerical" in q.tags]
    assert len(numerical) >= 2, f"{topic}: only {len(numerical)} numerical questions"


def test_every_numerical_question_has_a_recomputation_test(bank: Bank) -> None:
    sources = numeric_test_sources()
    untested = [
        question.id
        for topic in NEW_TOPICS
        for question in topic_questions(bank, topic)
        if "numerical" in question.tags and f'"{question.id}"' not in sources
    ]
    assert untested == []
