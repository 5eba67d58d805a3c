"""Leaderboards by period and scope, deterministic ties, member stats with streaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.grading.worker import GradingWorker
from bot.services.leaderboard import Period, period_start
from tests.fakes.graders import ScriptedGrader

FULL = "gradients weights loss"  # covers every key point of the small bank: score 100
HALF = "gradients only"  # 40


async def _answer_today(world, sessions, clock, texts: dict[int, str]) -> None:
    opened = await world.daily.open_today(world.channel.id)
    for member_id, text in texts.items():
        await world.answers.submit_daily(member_id, opened.post.id, text)
        clock.advance(timedelta(minutes=1))
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()


def test_period_start_uses_the_workspace_time_zone():
    now = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)  # Thursday 00:30 in Berlin
    assert period_start(Period.WEEK, now, "Europe/Berlin") == datetime(
        2026, 3, 1, 23, 0, tzinfo=UTC
    )
    assert period_start(Period.MONTH, now, "Europe/Berlin") == datetime(
        2026, 2, 28, 23, 0, tzinfo=UTC
    )
    assert period_start(Period.ALL, now, "Europe/Berlin") is None


async def test_week_month_and_all_time_windows(world, sessions, clock):
    # day 1 (Monday 2 March): both answer; then jump to the next week and only Bob answers
    await _answer_today(world, sessions, clock, {world.alice.id: FULL, world.bob.id: HALF})
    clock.advance(timedelta(days=7))
    await _answer_today(world, sessions, clock, {world.bob.id: FULL})
    week = await world.leaderboards.leaderboard(world.workspace.id, Period.WEEK)
    all_time = await world.leaderboards.leaderboard(world.workspace.id, Period.ALL)
    assert [row.display_name for row in week] == ["Bob"]
    assert {row.display_name for row in all_time} == {"Alice", "Bob"}
    month = await world.leaderboards.leaderboard(world.workspace.id, Period.MONTH)
    assert {row.display_name for row in month} == {"Alice", "Bob"}
    by_channel = await world.leaderboards.leaderboard(
        world.workspace.id, Period.ALL, channel_id=world.channel.id
    )
    assert by_channel == all_time


async def test_ties_break_by_answers_then_who_got_there_first(world, sessions, clock):
    # same points, same answer count: Alice answered first, so she ranks first
    await _answer_today(world, sessions, clock, {world.alice.id: FULL, world.bob.id: FULL})
    rows = await world.leaderboards.leaderboard(world.workspace.id, Period.ALL)
    assert [(row.rank, row.display_name) for row in rows] == [(1, "Alice"), (2, "Bob")]
    assert rows[0].points == rows[1].points


async def test_member_stats_streak_counts_consecutive_local_days(world, sessions, clock):
    for _ in range(3):
        await _answer_today(world, sessions, clock, {world.alice.id: FULL})
        clock.advance(timedelta(days=1))
    stats = await world.leaderboards.member_stats(world.alice.id)
    assert stats.streak.current == 3 and stats.streak.longest == 3
    assert stats.daily_answers == 3 and stats.rank == 1 and stats.average_score == 100.0
    clock.advance(timedelta(days=2))  # a missed day breaks the streak
    stats = await world.leaderboards.member_stats(world.alice.id)
    assert stats.streak.current == 0 and stats.streak.longest == 3
