"""The daily question: selection without repeats, difficulty rotation, exactly-once claims, reveal."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from bot.grading.worker import GradingWorker
from bot.services.daily import DailyService
from bot.services.directory import ScheduleChange
from bot.storage.models import DailyPost
from tests.fakes.graders import ScriptedGrader


async def test_no_repeat_until_every_eligible_question_was_posted(world, clock):
    seen = []
    for _ in range(6):
        opened = await world.daily.open_today(world.channel.id)
        assert opened is not None
        seen.append(opened.question.bank_id)
        clock.advance(timedelta(days=1))
    assert sorted(seen) == ["cnn-a", "cnn-b", "cnn-c", "rnn-a", "rnn-b", "rnn-c"]
    seventh = await world.daily.open_today(world.channel.id)
    assert seventh is not None and seventh.question.bank_id in seen


async def test_difficulty_rotates_beginner_intermediate_advanced(world, clock):
    levels = []
    for _ in range(6):
        opened = await world.daily.open_today(world.channel.id)
        levels.append(opened.question.difficulty)
        clock.advance(timedelta(days=1))
    assert levels == ["beginner", "intermediate", "advanced"] * 2


async def test_topic_filter_is_honoured(world, clock):
    await world.directory.update_schedule(world.channel.id, ScheduleChange(topics=["rnn"]))
    topics = set()
    for _ in range(4):
        opened = await world.daily.open_today(world.channel.id)
        topics.add(opened.question.topic)
        clock.advance(timedelta(days=1))
    assert topics == {"rnn"}


async def test_second_open_on_the_same_local_day_does_nothing(world, clock):
    assert await world.daily.open_today(world.channel.id) is not None
    clock.advance(timedelta(hours=3))
    assert await world.daily.open_today(world.channel.id) is None


async def test_two_concurrent_claims_produce_one_post(world, sessions, clock, rng):
    other_process = DailyService(sessions, clock, rng)
    results = await asyncio.gather(
        world.daily.open_today(world.channel.id), other_process.open_today(world.channel.id)
    )
    assert sum(result is not None for result in results) == 1
    async with sessions() as session:
        count = (await session.execute(sa.select(sa.func.count(DailyPost.id)))).scalar_one()
    assert count == 1


async def test_close_builds_reveal_with_counts_average_and_top_three(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    carol = await world.directory.member(world.workspace.id, "U3", "Carol")
    dave = await world.directory.member(world.workspace.id, "U4", "Dave")
    texts = {
        world.alice.id: "gradients weights loss",  # 100
        world.bob.id: "gradients only",  # 40
        carol.id: "weights and loss",  # 60
        dave.id: "nothing relevant",  # 0
    }
    for member_id, text in texts.items():
        await world.answers.submit_daily(member_id, opened.post.id, text)
        clock.advance(timedelta(minutes=1))
    await worker.drain()
    assert await world.daily.close_due() == []  # not yet due
    clock.set(opened.post.closes_at)
    reveals = await world.daily.close_due()
    assert len(reveals) == 1
    reveal = reveals[0]
    assert reveal.answer_count == 4 and reveal.graded_count == 4
    assert reveal.average_score == 50.0
    assert [(entry.display_name, entry.score) for entry in reveal.top] == [
        ("Alice", 100),
        ("Carol", 60),
        ("Bob", 40),
    ]
    assert await world.daily.close_due() == []  # closed once only


async def test_undelivered_claims_are_offered_again_until_delivered(world, clock):
    opened = await world.daily.open_today(world.channel.id)
    pending = await world.daily.undelivered_open_posts()
    assert [item.post.id for item in pending] == [opened.post.id]
    await world.daily.mark_delivered(opened.post.id, "1700000000.0001")
    assert await world.daily.undelivered_open_posts() == []
