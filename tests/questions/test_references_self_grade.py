"""Every rubric is checkable: the offline grader finds each key point in the question's own
reference answer, so the reference scores at least 90 on its rubric. LLM-only questions are
graded by an LLM only; the offline grader declines them (tested in tests/grading)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain.bank import load_bank
from bot.grading.base import GradingItem
from bot.grading.offline import OfflineGrader

ROOT = Path(__file__).resolve().parents[2]
MIN_SELF_SCORE = 90


@pytest.fixture(scope="module")
def self_scores() -> dict[str, int]:
    grader = OfflineGrader()
    bank = load_bank(ROOT / "questions")

    async def grade_all() -> dict[str, int]:
        scores = {}
        for question in bank.questions:
            if question.llm_only:
                continue
            grade = await grader.grade(GradingItem.from_question(question), question.reference)
            scores[question.id] = grade.score
        return scores

    return asyncio.run(grade_all())


def test_every_reference_scores_at_least_90_on_its_own_rubric(self_scores):
    low = {qid: score for qid, score in self_scores.items() if score < MIN_SELF_SCORE}
    assert low == {}
