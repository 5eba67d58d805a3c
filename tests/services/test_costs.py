"""Cost bounds: a member over the hourly practice limit and a workspace over its daily token
budget are graded offline (provisional) at once; LLM-only questions wait; usage per day."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.grading.base import Grade
from bot.grading.pricing import Prices, estimate_cost
from bot.services.answers import AnswerTarget
from bot.services.costs import CostGuard, usage_by_day
from bot.services.grading import FLAG_LLM_LIMIT, GradingWorker
from bot.storage.models import GradeRecord, QuestionVersion
from tests.fakes.graders import ScriptedGrader


class TokenGrader(ScriptedGrader):
    """A scripted 'LLM' that reports token use like a real one."""

    async def grade(self, item, answer):
        grade = await super().grade(item, answer)
        return Grade(
            score=grade.score,
            verdicts=grade.verdicts,
            feedback="",
            grader="llm",
            model="m",
            prompt_tokens=1_000,
            completion_tokens=200,
        )


async def _questions(sessions) -> list[QuestionVersion]:
    async with sessions() as session:
        return list((await session.execute(sa.select(QuestionVersion))).scalars())


async def _grades(sessions) -> list[GradeRecord]:
    async with sessions() as session:
        return list(
            (await session.execute(sa.select(GradeRecord).order_by(GradeRecord.id))).scalars()
        )


async def test_practice_over_the_hourly_limit_is_graded_offline_at_once(world, sessions, clock):
    llm, offline = TokenGrader("llm"), ScriptedGrader("offline")
    worker = GradingWorker(
        sessions, llm, offline, clock, costs=CostGuard(sessions, clock, practice_per_hour=2)
    )
    for question in (await _questions(sessions))[:3]:
        await world.answers.submit(world.alice, AnswerTarget.practice(question.id), "gradients")
        await worker.drain()
    graders = [
        (grade.grader, grade.provisional, tuple(grade.flags)) for grade in await _grades(sessions)
    ]
    assert graders[:2] == [("llm", False, ()), ("llm", False, ())]
    assert graders[2] == ("offline", True, (FLAG_LLM_LIMIT,))
    # a daily answer is never rate-limited
    opened = await world.open()
    await world.submit(world.alice, opened, "gradients")
    await worker.drain()
    assert (await _grades(sessions))[-1].grader == "llm"


async def test_a_workspace_over_its_daily_budget_is_graded_offline_until_tomorrow(
    world, sessions, clock
):
    llm, offline = TokenGrader("llm"), ScriptedGrader("offline")
    guard = CostGuard(sessions, clock, practice_per_hour=0, daily_token_budget=2_000)
    worker = GradingWorker(sessions, llm, offline, clock, costs=guard)
    questions = await _questions(sessions)
    for question in questions[:3]:
        await world.answers.submit(world.bob, AnswerTarget.practice(question.id), "weights")
        await worker.drain()
    assert [grade.grader for grade in await _grades(sessions)] == ["llm", "llm", "offline"]
    clock.advance(timedelta(days=1))
    fresh = CostGuard(sessions, clock, daily_token_budget=2_000)  # another process, next day
    worker = GradingWorker(sessions, llm, offline, clock, costs=fresh)
    await world.answers.submit(world.bob, AnswerTarget.practice(questions[3].id), "weights")
    await worker.drain()
    assert (await _grades(sessions))[-1].grader == "llm"


async def test_usage_by_day_counts_tokens_and_estimates_cost(world, sessions, clock):
    llm = TokenGrader("llm")
    worker = GradingWorker(sessions, llm, llm, clock)
    question = (await _questions(sessions))[0]
    await world.answers.submit(world.alice, AnswerTarget.practice(question.id), "gradients")
    await worker.drain()
    [day] = await usage_by_day(sessions, clock.now(), 7, price_in=0.15, price_out=0.60)
    assert (day.workspace, day.grades, day.prompt_tokens, day.completion_tokens) == (
        "slack:T1",
        1,
        1_000,
        200,
    )
    assert day.cost == estimate_cost(1_000, 200, Prices(0.15, 0.60)) == pytest.approx(0.00027)
