"""The daily question: selection without repeats, difficulty rotation, filters, the queue,
exactly-once claims with their outbox row, closing with the edit and the reveal."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from bot.services.channels import ConfigChange
from bot.services.daily import DailyService
from bot.services.grading import GradingWorker
from bot.storage.models import DailyPost, DeliveryAction, OutboxMessage
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier


async def test_no_repeat_until_every_eligible_question_was_posted(world, clock):
    seen = []
    for _ in range(6):
        opened = await world.open()
        seen.append(opened.question.bank_id)
        clock.advance(timedelta(days=1))
    assert sorted(seen) == ["cnn-a", "cnn-b", "cnn-c", "rnn-a", "rnn-b", "rnn-c"]
    seventh = await world.open()
    assert seventh.question.bank_id in seen


async def test_difficulty_rotates_beginner_intermediate_advanced(world, clock):
    levels = []
    for _ in range(6):
        opened = await world.open()
        levels.append(opened.question.difficulty)
        clock.advance(timedelta(days=1))
    assert levels == ["beginner", "intermediate", "advanced"] * 2


async def test_topic_filter_is_honoured(world, clock):
    await world.channels.update(world.admin, world.channel_id, ConfigChange(topics=["rnn"]))
    topics = set()
    for _ in range(4):
        topics.add((await world.open()).question.topic)
        clock.advance(timedelta(days=1))
    assert topics == {"rnn"}


async def test_nothing_opens_before_the_post_time_or_twice_on_one_day(world, clock):
    clock.advance(timedelta(minutes=-1))  # 08:59 in Berlin
    assert await world.daily.open_due(world.channel_id) is None
    clock.advance(timedelta(minutes=1))
    assert await world.daily.open_due(world.channel_id) is not None
    clock.advance(timedelta(hours=3))
    assert await world.daily.open_due(world.channel_id) is None


async def test_two_concurrent_claims_produce_one_post_and_one_message(world, sessions, clock, rng):
    other_process = DailyService(sessions, clock, rng)
    results = await asyncio.gather(
        world.daily.open_due(world.channel_id), other_process.open_due(world.channel_id)
    )
    assert sum(result is not None for result in results) == 1
    async with sessions() as session:
        posts = (await session.execute(sa.select(sa.func.count(DailyPost.id)))).scalar_one()
        messages = (await session.execute(sa.select(OutboxMessage))).scalars().all()
    assert posts == 1
    assert [(m.topic, m.action, m.channel_external_id) for m in messages] == [
        ("question", DeliveryAction.POST, "C1")
    ]


async def test_a_queued_question_goes_first_then_the_automatic_pick(world, clock):
    await world.channels.queue_bank_question(world.admin, world.channel_id, "rnn-c")
    first = await world.open()
    assert first.question.bank_id == "rnn-c"
    clock.advance(timedelta(days=1))
    second = await world.open()
    assert second.question.bank_id != "rnn-c"  # the queue entry was used up
    assert (await world.channels.view(world.channel_id)).queue == ()


async def test_close_writes_the_edit_and_the_reveal_in_the_posts_thread(world, sessions, clock):
    opened = await world.open()
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    carol = await world.actor("U3", "Carol")
    dave = await world.actor("U4", "Dave")
    texts = [
        (world.alice, "gradients weights loss"),  # 100
        (world.bob, "gradients only"),  # 40
        (carol, "weights and loss"),  # 60
        (dave, "nothing relevant"),  # 0
    ]
    for member, text in texts:
        await world.submit(member, opened, text)
        clock.advance(timedelta(minutes=1))
    await worker.drain()
    assert await world.daily.close_due() == []  # not yet due
    notifier = RecordingNotifier()
    dispatcher = world.dispatcher({notifier.platform: notifier})
    await dispatcher.drain()
    clock.set(opened.post.closes_at)
    [reveal] = await world.daily.close_due()
    assert reveal.answer_count == 4 and reveal.graded_count == 4
    assert reveal.average_score == 50.0
    assert [(entry.display_name, entry.score) for entry in reveal.top] == [
        ("Alice", 100),
        ("Carol", 60),
        ("Bob", 40),
    ]
    assert await world.daily.close_due() == []  # closed once only
    await dispatcher.drain()
    question_ref = notifier.of("question")[0]
    closed, revealed = notifier.of("closed")[0], notifier.of("reveal")[0]
    assert closed.action is DeliveryAction.EDIT and revealed.action is DeliveryAction.REPLY
    assert closed.parent_ref == revealed.parent_ref == "slack-msg-1"
    assert question_ref.card.title.startswith("🧠")
    assert closed.card.title == "🔒 Closed · 4 answers"
    text = revealed.card.as_text()
    assert "Alice — 100/100" in text and "Average score:\n50/100" in text


async def test_a_paused_channel_and_a_skip_date_post_nothing(world, clock):
    await world.channels.skip_dates(world.admin, world.channel_id, add=["2026-03-03"])
    await world.channels.pause(world.admin, world.channel_id, until="2026-03-05", reason="offsite")
    for _ in range(3):  # Mon 2 (paused), Tue 3 (paused and skipped), Wed 4 (paused)
        assert await world.daily.open_due(world.channel_id) is None
        clock.advance(timedelta(days=1))
    assert (await world.open()).post.local_date.isoformat() == "2026-03-05"
