"""Nudges before a streak breaks (opt-in, once per post, never to opted-out members) and the
month-end champions post (exactly once, even with two schedulers)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.services.channels import ConfigChange
from bot.services.daily import DailyService
from bot.services.engagement import Engagement
from bot.services.grading import GradingWorker
from bot.services.leaderboard import Period
from bot.services.scheduler import DailyScheduler
from bot.storage.db import create_engine, session_factory
from bot.storage.models import MonthlyAward, Nudge, Platform
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier

FULL = "gradients weights loss"
SLACK = {Platform.SLACK}


async def _play_days(world, sessions, clock, members, days: int) -> None:
    grader = ScriptedGrader()
    for _ in range(days):
        opened = await world.open()
        for member in members:
            await world.submit(member, opened, FULL)
        await GradingWorker(sessions, grader, grader, clock).drain()
        clock.advance(timedelta(days=1))
        await world.daily.close_due()


async def test_nudges_go_once_to_opted_in_members_with_a_streak_who_have_not_answered(
    world, sessions, clock
):
    carol = await world.actor("U3", "Carol")
    await _play_days(world, sessions, clock, [world.alice, world.bob, carol], 2)
    await world.directory.set_nudges(world.alice.member_id, True)  # streak 2, will not answer
    await world.directory.set_nudges(carol.member_id, True)  # streak 2, answers today
    # Bob has a streak too but never opted in
    opened = await world.open()
    await world.submit(carol, opened, FULL)
    engagement = Engagement(sessions, clock, nudge_hours_before=2)
    assert await engagement.send_nudges(SLACK) == 0  # closes in 23 h: too early
    clock.set(opened.post.closes_at - timedelta(hours=1))
    assert await engagement.send_nudges(SLACK) == 1
    assert await engagement.send_nudges(SLACK) == 0  # at most one per post
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [nudge] = notifier.of("nudge")
    assert nudge.member_external_id == "U1" and nudge.card.private
    assert "2-post streak" in nudge.card.title
    assert [button.action.value for button in nudge.card.buttons] == ["answer-daily", "nudges-off"]


async def test_no_nudge_for_a_streak_under_two_or_after_opting_out(world, sessions, clock):
    await _play_days(world, sessions, clock, [world.alice], 1)
    await world.directory.set_nudges(world.alice.member_id, True)
    opened = await world.open()
    clock.set(opened.post.closes_at - timedelta(minutes=30))
    engagement = Engagement(sessions, clock)
    assert await engagement.send_nudges(SLACK) == 0  # a streak of 1
    clock.set(opened.post.closes_at + timedelta(hours=1))
    await world.daily.close_due()
    await _play_days(world, sessions, clock, [world.alice], 2)
    await world.directory.set_nudges(world.alice.member_id, False)
    opened = await world.open()
    clock.set(opened.post.closes_at - timedelta(minutes=30))
    assert await engagement.send_nudges(SLACK) == 0
    async with sessions() as session:
        assert (await session.execute(sa.select(sa.func.count(Nudge.id)))).scalar_one() == 0


async def test_the_month_end_post_goes_out_exactly_once_with_two_schedulers(
    world, sessions, clock, database_url
):
    clock.set(datetime(2026, 3, 29, 8, 0, tzinfo=UTC))
    carol = await world.actor("U3", "Carol")
    await _play_days(world, sessions, clock, [world.alice, world.bob], 2)  # 29 and 30 March
    await _play_days(world, sessions, clock, [world.alice, carol], 1)  # 31 March
    await world.channels.update(world.admin, world.channel_id, ConfigChange(mention_champion=True))
    clock.set(datetime(2026, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 in Berlin: not over yet
    first = Engagement(sessions, clock)
    assert await first.award_months(SLACK) == 0
    clock.set(datetime(2026, 3, 31, 22, 1, tzinfo=UTC))  # April in Berlin
    other_engine = create_engine(database_url)
    try:
        second_sessions = session_factory(other_engine)
        schedulers = [
            DailyScheduler(
                s,
                DailyService(s, clock, random.Random(i)),
                clock,
                platforms=SLACK,
                engagement=Engagement(s, clock),
            )
            for i, s in enumerate((sessions, second_sessions))
        ]
        await asyncio.gather(*(scheduler.sweep() for scheduler in schedulers))
        await asyncio.gather(*(scheduler.sweep() for scheduler in schedulers))
    finally:
        await other_engine.dispose()
    async with sessions() as session:
        awards = (await session.execute(sa.select(MonthlyAward))).scalars().all()
    assert [(award.month.isoformat(), award.channel_id) for award in awards] == [
        ("2026-03-01", world.channel_id)
    ]
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [post] = notifier.of("champions")
    text = post.card.as_text()
    assert post.card.title == "🏆 Champions of March 2026"
    assert text.index("Alice") < text.index("Bob")  # 3 answers of 100 beat 2
    assert post.card.mention_member_ids == ("U1",)
    assert "Best streak" in text


async def test_champions_break_a_points_tie_by_more_answers_like_the_monthly_board(
    world, sessions, clock
):
    """Alice and Bob both score 20 points in March: Bob in two answers, Alice in one that came
    first. The monthly board puts Bob first (more answers); the champions post must agree."""
    clock.set(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    await _play_days(world, sessions, clock, [world.bob], 1)  # beginner: Bob 10
    await _play_days(world, sessions, clock, [world.alice], 1)  # intermediate: Alice 20
    await _play_days(world, sessions, clock, [], 1)  # advanced: nobody
    await _play_days(world, sessions, clock, [world.bob], 1)  # beginner: Bob 10 more
    board = await world.leaderboards.leaderboard(
        world.workspace_id, Period.MONTH, channel_id=world.channel_id
    )
    assert [(row.display_name, row.points) for row in board] == [("Bob", 20), ("Alice", 20)]
    clock.set(datetime(2026, 4, 1, 8, 0, tzinfo=UTC))
    assert await Engagement(sessions, clock).award_months(SLACK) == 1
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [post] = notifier.of("champions")
    text = post.card.as_text()
    assert text.index("Bob") < text.index("Alice")


async def test_the_champions_wait_for_the_grade_of_an_answer_sent_before_midnight(
    world, sessions, clock
):
    """Alice answers at 23:59:50 on 31 March (Berlin) and her grade comes after midnight: the
    champions post waits for it instead of leaving her points out for good."""
    clock.set(datetime(2026, 3, 30, 8, 0, tzinfo=UTC))
    await _play_days(world, sessions, clock, [world.bob], 1)  # beginner on 30 March: Bob 10
    opened = await world.open()  # intermediate on 31 March
    clock.set(datetime(2026, 3, 31, 21, 59, 50, tzinfo=UTC))
    await world.submit(world.alice, opened, FULL)  # 20 points, not graded yet
    clock.set(datetime(2026, 3, 31, 22, 0, 30, tzinfo=UTC))  # April in Berlin
    engagement = Engagement(sessions, clock)
    assert await engagement.award_months(SLACK) == 0
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    assert await engagement.award_months(SLACK) == 1
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [post] = notifier.of("champions")
    text = post.card.as_text()
    assert "Alice — 20 pts" in text
    assert text.index("Alice") < text.index("Bob")


async def test_a_channel_in_its_own_zone_gets_its_champions_when_its_month_ends(
    world, sessions, clock
):
    """A Berlin workspace's channel runs on New York time: Bob's answer at 20:00 on 31 March in
    New York is on the channel's March board, so the champions wait for New York's midnight and
    count it."""
    await world.channels.update(
        world.admin, world.channel_id, ConfigChange(timezone="America/New_York")
    )
    clock.set(datetime(2026, 3, 31, 13, 0, tzinfo=UTC))  # 09:00 in New York
    opened = await world.open()
    await world.submit(world.alice, opened, "gradients")  # 4 points
    clock.set(datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # 20:00 in New York, April in Berlin
    await world.submit(world.bob, opened, FULL)  # 10 points
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    board = await world.leaderboards.leaderboard(
        world.workspace_id, Period.MONTH, channel_id=world.channel_id
    )
    assert [(row.display_name, row.points) for row in board] == [("Bob", 10), ("Alice", 4)]
    engagement = Engagement(sessions, clock)
    clock.set(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))  # 21:00 on 31 March in New York
    assert await engagement.award_months(SLACK) == 0
    clock.set(datetime(2026, 4, 1, 4, 1, tzinfo=UTC))  # April in New York
    assert await engagement.award_months(SLACK) == 1
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [post] = notifier.of("champions")
    text = post.card.as_text()
    assert text.index("Bob — 10 pts") < text.index("Alice — 4 pts")
