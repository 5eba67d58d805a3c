"""The whole answer path on the composition root: BotApp + worker + the real openai client
against the loopback fake, through an LLM outage and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from bot.app import BotApp, build_graders
from bot.config import load_settings
from bot.services.answers import AnswerTarget
from bot.services.channels import ConfigChange
from bot.storage.grade_cache import SqlGradeCache
from bot.storage.models import GradeCacheEntry, GradeRecord, Platform, ScoreEvent
from tests.adapters.test_console import MINI_BANK
from tests.fakes.openai_server import FakeOpenAI, HTTPError

ANSWER = (
    "ReLU outputs max(0, x), so negative inputs become zero. Its gradient is 1 for positive "
    "inputs, which reduces vanishing gradients."
)


async def _make_app(database_url: str, fake: FakeOpenAI, clock, rng) -> BotApp:
    settings = load_settings(
        database_url=database_url,
        questions_dir=MINI_BANK,
        openai_api_key="sk-test",
        openai_base_url=fake.base_url,
        grading_timeout_seconds=5,
        grading_max_attempts=2,
    )
    return await BotApp.create(settings, clock=clock, rng=rng, migrate=False)


async def test_llm_outage_gives_a_provisional_grade_and_requeue_regrades_with_the_llm(
    engine, database_url, clock, rng
):
    async with FakeOpenAI() as fake:
        app = await _make_app(database_url, fake, clock, rng)
        try:
            assert app.worker.grader_name == "llm"
            member = await app.directory.resolve(
                Platform.SLACK, "T9", "U9", channel_external_id="C9", is_admin=True
            )
            await app.channels.update(
                member,
                member.channel_id,
                ConfigChange(enabled=True, days="daily", post_time="00:00"),
            )
            opened = await app.daily.open_due(member.channel_id)
            receipt = await app.answers.submit(member, AnswerTarget.daily(opened.post.id), ANSWER)

            fake.enqueue(HTTPError(503, "overloaded"), HTTPError(503, "overloaded"))
            app.worker._sleep = _no_sleep  # the backoff is tested elsewhere
            assert await app.worker.drain() == 1
            view = await app.answers.view(receipt.answer_id)
            assert view.grade.provisional and view.grade.grader == "offline"

            assert await app.worker.requeue() == 1
            await app.worker.drain()
            view = await app.answers.view(receipt.answer_id)
            assert not view.grade.provisional and view.grade.grader == "llm"
            assert view.grade.prompt_tokens > 0 and view.grade.model
            assert app.flush_grade_cache is not None
            await app.flush_grade_cache()  # the cache writes behind the grade
            async with app.sessions() as session:
                grades = (
                    await session.execute(sa.select(sa.func.count(GradeRecord.id)))
                ).scalar_one()
                events = (
                    await session.execute(sa.select(sa.func.count(ScoreEvent.id)))
                ).scalar_one()
                cached = (
                    await session.execute(sa.select(sa.func.count()).select_from(GradeCacheEntry))
                ).scalar_one()
            assert (grades, events, cached) == (2, 1, 1)
            requests_before = len(fake.requests)
            # the same answer again (practice) is served from the database cache: no new request
            again = await app.answers.submit(
                member, AnswerTarget.practice(opened.question.id), ANSWER
            )
            await app.worker.drain()
            assert len(fake.requests) == requests_before
            assert (await app.answers.view(again.answer_id)).grade.grader == "llm"
        finally:
            await app.close()


async def _no_sleep(_: float) -> None:
    return None


async def test_sql_grade_cache_round_trip(sessions):
    from bot.domain.rubric import Coverage, KeyPointVerdict
    from bot.grading.base import Grade

    cache = SqlGradeCache(sessions)
    grade = Grade(
        score=70,
        verdicts=(KeyPointVerdict("a point", Coverage.PARTIAL, "quoted words", "say more"),),
        feedback="ok",
        grader="llm",
        model="m",
        prompt_tokens=12,
        completion_tokens=5,
    )
    assert await cache.get("k") is None
    await cache.put("k", grade)
    await cache.put("k", grade)  # idempotent
    assert await cache.get("k") == grade  # queued: served from memory
    await cache.flush()
    assert await SqlGradeCache(sessions).get("k") == grade  # written: read back from the table


def test_without_an_api_key_both_graders_are_offline(tmp_path):
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    primary, fallback = build_graders(settings, sessions=None)  # type: ignore[arg-type]
    assert primary.name == fallback.name == "offline"


def test_the_server_claims_a_round_of_answers_ahead_of_its_grader_slots() -> None:
    from bot.app import grading_prefetch

    assert [grading_prefetch(c) for c in (1, 4, 8, 32, 64)] == [2, 4, 8, 32, 64]
