"""Leaderboards by period and scope, deterministic ties, member stats with streaks counted over
the channel's posts (weekends and holidays break nothing) and streak freezes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.channels import ConfigChange
from bot.services.grading import GradingWorker
from bot.services.leaderboard import Period, period_start
from bot.storage.models import Platform
from tests.fakes.graders import ScriptedGrader

FULL = "gradients weights loss"  # covers every key point of the small bank: score 100
HALF = "gradients only"  # 40


async def _answer_today(world, sessions, clock, texts) -> None:
    opened = await world.open()
    for member, text in texts:
        await world.submit(member, opened, text)
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
    # Monday 2 March: both answer; then the next week only Bob answers
    await _answer_today(world, sessions, clock, [(world.alice, FULL), (world.bob, HALF)])
    clock.advance(timedelta(days=7))
    await _answer_today(world, sessions, clock, [(world.bob, FULL)])
    week = await world.leaderboards.leaderboard(world.workspace_id, Period.WEEK)
    all_time = await world.leaderboards.leaderboard(world.workspace_id, Period.ALL)
    assert [row.display_name for row in week] == ["Bob"]
    assert {row.display_name for row in all_time} == {"Alice", "Bob"}
    month = await world.leaderboards.leaderboard(world.workspace_id, Period.MONTH)
    assert {row.display_name for row in month} == {"Alice", "Bob"}
    by_channel = await world.leaderboards.leaderboard(
        world.workspace_id, Period.ALL, channel_id=world.channel_id
    )
    assert by_channel == all_time


async def test_more_points_rank_first_and_ties_break_by_who_got_there_first(world, sessions, clock):
    await _answer_today(world, sessions, clock, [(world.bob, HALF), (world.alice, FULL)])
    rows = await world.leaderboards.leaderboard(world.workspace_id, Period.ALL)
    assert [(row.rank, row.display_name) for row in rows] == [(1, "Alice"), (2, "Bob")]
    assert rows[0].points > rows[1].points
    clock.advance(timedelta(days=1))
    # same points, same answer count: Alice answered first, so she ranks first
    await _answer_today(world, sessions, clock, [(world.alice, FULL), (world.bob, FULL)])
    rows = await world.leaderboards.leaderboard(world.workspace_id, Period.WEEK)
    assert rows[0].display_name == "Alice"


async def test_member_stats_count_graded_daily_answers_and_average_their_scores(
    world, sessions, clock
):
    await _answer_today(world, sessions, clock, [(world.alice, HALF)])
    opened = await world.daily.current_post(world.channel_id)
    await world.submit(world.alice, opened, FULL)  # a resubmission replaces, never adds
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    stats = await world.leaderboards.member_stats(world.alice.member_id)
    assert stats.daily_answers == 1 and stats.average_score == 100.0
    assert stats.rank == 1 and stats.practice_answers == 0
    nobody = await world.leaderboards.member_stats(world.bob.member_id)
    assert (nobody.points, nobody.rank, nobody.average_score) == (0, None, None)


async def test_streak_counts_posts_so_a_weekday_channel_keeps_it_over_the_weekend(
    world, sessions, clock
):
    await world.channels.update(world.admin, world.channel_id, ConfigChange(days="mon-fri"))
    for _ in range(5):  # Monday to Friday
        await _answer_today(world, sessions, clock, [(world.alice, FULL)])
        clock.advance(timedelta(days=1))
    clock.advance(timedelta(days=2))  # the weekend: no posts
    stats = await world.leaderboards.member_stats(world.alice.member_id)
    assert stats.streak.current == 5 and stats.streak.longest == 5
    await world.open()  # Monday's post, not answered yet: not a miss while it is open
    assert (await world.leaderboards.member_stats(world.alice.member_id)).streak.current == 5
    clock.advance(timedelta(days=1))
    await world.daily.close_due()
    stats = await world.leaderboards.member_stats(world.alice.member_id)
    assert stats.streak.current == 0 and stats.streak.longest == 5


async def test_seven_answered_posts_earn_a_freeze_spent_on_a_missed_post(world, sessions, clock):
    for _ in range(7):
        await _answer_today(world, sessions, clock, [(world.alice, FULL)])
        clock.advance(timedelta(days=1))
    await world.open()  # missed
    clock.advance(timedelta(days=1))
    await world.daily.close_due()
    await _answer_today(world, sessions, clock, [(world.alice, FULL)])
    stats = await world.leaderboards.member_stats(world.alice.member_id)
    assert stats.streak.current == 8 and stats.streak.freezes == 0
    assert [day.isoformat() for day in stats.streak.freezes_used] == ["2026-03-09"]
    board = await world.leaderboards.streak_board(world.channel_id)
    assert [(row.display_name, row.streak.current) for row in board] == [("Alice", 8)]


async def test_member_stats_show_the_best_streak_over_the_workspaces_channels(
    world, sessions, clock
):
    second = await world.directory.resolve(
        Platform.SLACK,
        "T1",
        "UADMIN",
        channel_external_id="C2",
        channel_name="second",
        member_name="Admin",
        is_admin=True,
    )
    await world.channels.update(
        second,
        second.channel_id,
        ConfigChange(
            enabled=True,
            days="daily",
            post_time="07:00",
            timezone="America/New_York",
            answer_window="23h",
        ),
    )
    alice_there = await world.directory.resolve(
        Platform.SLACK, "T1", "U1", channel_external_id="C2", member_name="Alice"
    )
    grader = ScriptedGrader()
    for day in range(2):
        await world.daily.close_due()
        here = await world.open()
        if day == 0:  # the first channel only the first day: its post of the second day is missed
            await world.submit(world.alice, here, FULL)
        clock.advance(timedelta(hours=4, minutes=30))  # 12:30 UTC: 07:30 in New York
        there = await world.daily.open_due(second.channel_id)
        await world.submit(alice_there, there, FULL)
        await GradingWorker(sessions, grader, grader, clock).drain()
        clock.advance(timedelta(hours=19, minutes=30))
    await world.daily.close_due()
    stats = await world.leaderboards.member_stats(world.alice.member_id)
    assert (stats.streak.current, stats.streak_note) == (2, "Streak in #second")
    first_only = await world.leaderboards.member_stats(
        world.alice.member_id, channel_id=world.channel_id
    )
    assert (first_only.streak.current, first_only.streak.longest) == (0, 1)
