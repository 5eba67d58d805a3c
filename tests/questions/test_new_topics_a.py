"""The deep-learning topics added in the topics-a batch are present, balanced and recomputed.

Each topic lives in its own bank file, belongs to the deep-learning track, has at least
MIN_QUESTIONS questions, at least a third of them intermediate or advanced and at least
MIN_ADVANCED advanced ones. Every question tagged ``numerical`` is named (by id, in quotes) in
one of the ``tests/questions/test_numeric_*.py`` files, which recompute its numbers.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.domain.bank import Bank, Difficulty, Track, load_bank

ROOT = Path(__file__).resolve().parents[2]
NUMERIC_TESTS = sorted((ROOT / "tests" / "questions").glob("test_numeric_*.py"))
NEW_TOPICS = (
    "graph-neural-networks",
    "detection-segmentation",
    "self-supervised",
    "multimodal",
    "speech",
    "low-precision",
)
MIN_QUESTIONS = 9
MIN_ADVANCED = 2


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(ROOT / "questions")


@pytest.fixture(scope="module")
def numeric_test_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in NUMERIC_TESTS)


@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_topic_has_its_own_file_in_the_deep_learning_track(bank: Bank, topic: str) -> None:
    assert (ROOT / "questions" / f"{topic}.yaml").is_file()
    single_file = load_bank(ROOT / "questions" / f"{topic}.yaml")
    assert {q.topic for q in single_file.questions} == {topic}
    in_bank = [q for q in bank.questions if q.topic == topic]
    assert {q.track for q in in_bank} == {Track.DEEP_LEARNING}
    assert all(q.id.startswith(f"{topic}-") for q in in_bank)


@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_topic_size_and_difficulty(bank: Bank, topic: str) -> None:
    levels = Counter(q.difficulty for q in bank.questions if q.topic == topic)
    total = sum(levels.values())
    assert total >= MIN_QUESTIONS, f"{topic}: {total} questions"
    harder = levels[Difficulty.INTERMEDIATE] + levels[Difficulty.ADVANCED]
    assert 3 * harder >= total, f"{topic}: only {harder} of {total} intermediate or advanced"
    assert levels[Difficulty.ADVANCED] >= MIN_ADVANCED, f"{topic}: {dict(levels)}"


@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_topic_has_numeric_questions(bank: Bank, topic: str) -> None:
    numeric = [q for q in bank.questions if q.topic == topic and "numerical" in q.tags]
    assert len(numeric) >= 2, f"{topic}: {len(numeric)} numerical questions"


@pytest.mark.parametrize("topic", NEW_TOPICS)
def test_every_numerical_question_has_a_recomputation_test(
    bank: Bank, topic: str, numeric_test_text: str
) -> None:
    numeric = [q.id for q in bank.questions if q.topic == topic and "numerical" in q.tags]
    missing = [qid for qid in numeric if f'"{qid}"' not in numeric_test_text]
    assert missing == [], f"no test_numeric_*.py file names {missing}"
