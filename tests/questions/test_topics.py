"""The bank's topics: each listed topic lives in its own file, in its track, with enough
questions and a real share of intermediate and advanced ones; and every question tagged
``numerical`` anywhere in the bank is recomputed by a ``tests/questions/test_numeric_*.py``
file (which names it by id, in quotes).

Minimums: the areas the bank lacked need at least 9 questions, thin areas at least 6; every
listed topic needs at least a third of its questions intermediate or advanced, at least two
advanced ones and at least two numerical ones.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.domain.bank import Bank, Difficulty, Question, Track, load_bank

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent

#: topic -> (track, minimum number of questions)
TOPICS: dict[str, tuple[Track, int]] = {
    "graph-neural-networks": (Track.DEEP_LEARNING, 9),
    "detection-segmentation": (Track.DEEP_LEARNING, 9),
    "self-supervised": (Track.DEEP_LEARNING, 9),
    "multimodal": (Track.DEEP_LEARNING, 9),
    "speech": (Track.DEEP_LEARNING, 9),
    "low-precision": (Track.DEEP_LEARNING, 9),
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
MIN_NUMERICAL = 2


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(ROOT / "questions")


def topic_questions(bank: Bank, topic: str) -> list[Question]:
    return [question for question in bank.questions if question.topic == topic]


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_topic_has_its_own_file_in_its_track_with_enough_questions(bank: Bank, topic: str) -> None:
    track, minimum = TOPICS[topic]
    assert {q.topic for q in load_bank(ROOT / "questions" / f"{topic}.yaml").questions} == {topic}
    questions = topic_questions(bank, topic)
    assert len(questions) >= minimum, f"{topic}: {len(questions)} questions, need {minimum}"
    assert {question.track for question in questions} == {track}
    assert all(question.id.startswith(f"{topic}-") for question in questions)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_topic_difficulty_mix_and_numerical_questions(bank: Bank, topic: str) -> None:
    questions = topic_questions(bank, topic)
    counts = Counter(question.difficulty for question in questions)
    harder = counts[Difficulty.INTERMEDIATE] + counts[Difficulty.ADVANCED]
    assert 3 * harder >= len(questions), f"{topic}: {dict(counts)}"
    assert counts[Difficulty.ADVANCED] >= MIN_ADVANCED, f"{topic}: {dict(counts)}"
    numerical = [question for question in questions if "numerical" in question.tags]
    assert len(numerical) >= MIN_NUMERICAL, f"{topic}: {len(numerical)} numerical questions"


def test_every_numerical_question_in_the_bank_has_a_recomputation_test(bank: Bank) -> None:
    files = sorted(TESTS.glob("test_numeric_*.py"))
    assert files, "no numeric test files found"
    sources = "\n".join(path.read_text(encoding="utf-8") for path in files)
    untested = [
        question.id
        for question in bank.questions
        if "numerical" in question.tags and f'"{question.id}"' not in sources
    ]
    assert untested == []
