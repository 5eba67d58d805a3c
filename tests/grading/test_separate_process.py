"""The offline grader in a child process gives the in-process grader's grades, passes its
refusals through, survives a killed child, and is what the server builds (the terminal keeps a
thread)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from bot.app import build_graders
from bot.config import load_settings
from bot.domain.bank import load_bank
from bot.grading.base import GradingItem, LLMRequiredError, TransientGradingError
from bot.grading.offline import OfflineGrader
from bot.grading.separate_process import WARM_UP, SeparateProcessGrader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank_items() -> list[GradingItem]:
    bank = load_bank(ROOT / "questions")
    graded = [q for q in bank.questions if not q.llm_only]
    return [GradingItem.from_question(q) for q in graded[:: max(1, len(graded) // 8)][:8]]


async def test_grades_in_the_child_equal_the_in_process_grades(bank_items):
    in_process, separate = OfflineGrader(), SeparateProcessGrader()
    answers = [item.reference for item in bank_items] + [
        "I am not sure; something about layers.",
        "",
    ]
    for item in bank_items:
        for answer in answers[:: len(answers) // 3]:
            assert await separate.grade(item, answer) == await in_process.grade(item, answer)
    reference_only = GradingItem(prompt="What is a tensor?", reference=bank_items[0].reference)
    answer = bank_items[0].reference[:200]
    assert await separate.grade(reference_only, answer) == await in_process.grade(
        reference_only, answer
    )


async def test_an_llm_only_question_is_declined_through_the_process(bank_items):
    llm_only = GradingItem(prompt="Tell us about a conflict.", reference="A story.", llm_only=True)
    with pytest.raises(LLMRequiredError):
        await SeparateProcessGrader().grade(llm_only, "Once, in a team...")


async def test_a_killed_child_fails_one_grade_as_transient_and_the_next_starts_a_new_one():
    grader = SeparateProcessGrader()
    first_pid = await grader.warm_up()
    assert first_pid != os.getpid()
    os.kill(first_pid, signal.SIGKILL)
    with pytest.raises(TransientGradingError):
        await grader.grade(*WARM_UP)
    grade = await grader.grade(*WARM_UP)
    assert grade.grader == "offline" and grade.score > 0
    assert await grader.warm_up() not in (first_pid, os.getpid())


def test_the_server_grades_offline_in_a_child_process_unless_told_not_to(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    primary, fallback = build_graders(load_settings(database_url=url), sessions=None)  # type: ignore[arg-type]
    assert isinstance(primary, SeparateProcessGrader) and primary is fallback
    primary, fallback = build_graders(
        load_settings(database_url=url, grading_process=False),
        sessions=None,  # type: ignore[arg-type]
    )
    assert isinstance(primary, OfflineGrader) and primary is fallback
    with_llm = load_settings(database_url=url, openai_api_key="sk-test")
    primary, fallback = build_graders(with_llm, sessions=None)  # type: ignore[arg-type]
    assert primary.name == "llm" and isinstance(fallback, SeparateProcessGrader)
