"""GRADING_WORKER=false: a web replica stores answers and delivers messages but never grades; a
second replica on the same database (the setting on, no chat adapter) grades what the first
stored, and the grade reaches the member through the first replica's outbox dispatcher. On
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import sqlalchemy as sa

from bot.app import BotApp
from bot.config import load_settings
from bot.services.answers import AnswerTarget
from bot.services.channels import ConfigChange
from bot.storage.models import Answer, AnswerStatus, GradeRecord, Platform
from tests.adapters.test_console import MINI_BANK
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier

ANSWER = "ReLU outputs max(0, x); its gradient is 1 for positive inputs."


async def _replica(database_url: str, grading_worker: bool, grader: ScriptedGrader, clock, rng):
    settings = load_settings(
        database_url=database_url, questions_dir=MINI_BANK, grading_worker=grading_worker
    )
    return await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll the database or the notifier (another replica's work signals nothing here)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _grades(app: BotApp) -> int:
    async with app.sessions() as session:
        return (await session.execute(sa.select(sa.func.count(GradeRecord.id)))).scalar_one()


async def test_a_web_replica_never_grades_and_a_worker_replica_grades_its_answers(
    engine, database_url, clock, rng
):
    web_grader, worker_grader = ScriptedGrader("web"), ScriptedGrader("worker")
    web = await _replica(database_url, False, web_grader, clock, rng)
    worker = await _replica(database_url, True, worker_grader, clock, rng)
    notifier = RecordingNotifier(Platform.SLACK)
    try:
        await web.start([notifier], schedule=False)
        member = await web.directory.resolve(
            Platform.SLACK, "T1", "U1", channel_external_id="C1", is_admin=True
        )
        assert member.channel_id is not None
        await web.channels.update(
            member, member.channel_id, ConfigChange(enabled=True, days="daily", post_time="00:00")
        )
        opened = await web.daily.open_due(member.channel_id)
        assert opened is not None and opened.post.id is not None
        receipt = await web.answers.submit(member, AnswerTarget.daily(opened.post.id), ANSWER)

        # the web replica alone: the answer is stored, the daily post delivered, nothing graded
        await _eventually(lambda: _delivered(notifier, "question"))
        await asyncio.sleep(0.5)
        async with web.sessions() as session:
            answer = await session.get(Answer, receipt.answer_id)
            assert answer is not None and answer.status == AnswerStatus.PENDING
        assert await _grades(web) == 0
        assert web_grader.calls == []

        # a worker replica (no chat adapter) grades it; the web replica delivers the grade
        await worker.start([], schedule=False)
        await _eventually(lambda: _graded(web, receipt.answer_id))
        assert worker_grader.calls == [ANSWER]
        assert web_grader.calls == []
        await _eventually(lambda: _delivered(notifier, "grade"))
        grade_cards = notifier.of("grade")
        assert len(grade_cards) == 1
        assert grade_cards[0].member_external_id == "U1"
    finally:
        await worker.close()
        await web.close()


async def _graded(app: BotApp, answer_id: int) -> bool:
    async with app.sessions() as session:
        answer = await session.get(Answer, answer_id)
        return answer is not None and answer.status == AnswerStatus.GRADED


async def _delivered(notifier: RecordingNotifier, topic: str) -> bool:
    return bool(notifier.of(topic))
