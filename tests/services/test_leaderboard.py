"""Leaderboards by period and scope, deterministic ties, member stats with streaks counted over
the channel's posts (weekends and holidays break nothing) and streak freezes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.domain.bank import Difficulty
from bot.domain.streaks import Streak
from bot.services.channels import ConfigChange
from bot.services.grading import GradingWorker
from bot.services.leaderboard import (
    LeaderboardService,
    Period,
    channel_streaks,
    member_streaks,
    period_start,
)
from bot.storage.models import (
    Answer,
    AnswerKind,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    Platform,
    QuestionVersion,
    ScoreEvent,
    Workspace,
)
from tests.fakes.graders import ScriptedGrader
from tests.rich_world import DST_ZONE, EAST_ZONE, WEST_ZONE, local

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


# --- The richer world: unequal points, ties, two channels, zones far from UTC ----------------

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


async def test_board_ranks_more_points_first_then_more_answers_then_earlier_then_lower_id(
    rich_world,
):
    ws = await rich_world.workspace(EAST_ZONE)
    channel = await rich_world.channel(ws, "east", EAST_ZONE)
    ana, ben, cy, dee, eve, fay = [
        await rich_world.member(ws, name) for name in ("Ana", "Ben", "Cy", "Dee", "Eve", "Fay")
    ]
    for day, score in enumerate((73, 88, 100)):  # 15 + 18 + 20 = 53
        await rich_world.score(ws, channel, ana, START + timedelta(days=day), score)
    await rich_world.score(ws, channel, ben, START, 100, Difficulty.ADVANCED)  # 30 in one
    # Cy and Dee: 30 in two answers each (more answers than Ben); Cy got there first
    await rich_world.score(ws, channel, cy, START, 100, Difficulty.BEGINNER)
    await rich_world.score(ws, channel, cy, START + timedelta(days=1), 100)
    await rich_world.score(ws, channel, dee, START, 100)
    await rich_world.score(ws, channel, dee, START + timedelta(days=2), 100, Difficulty.BEGINNER)
    # Eve and Fay: the same points, answers and instant: the lower member id first
    for member in (fay, eve):
        await rich_world.score(ws, channel, member, START + timedelta(days=3), 40)
    rows = await rich_world.service().leaderboard(ws, Period.ALL)
    got = [(row.rank, row.display_name, row.points, row.answers) for row in rows]
    assert got == [
        (1, "Ana", 53, 3),
        (2, "Cy", 30, 2),
        (3, "Dee", 30, 2),
        (4, "Ben", 30, 1),
        (5, "Eve", 8, 1),
        (6, "Fay", 8, 1),
    ]
    assert eve < fay
    assert got == rich_world.expected_board(ws, None)
    assert [row.member_id for row in rows] == [ana, cy, dee, ben, eve, fay]
    # a member's rank in their stats is their place on this board, ties broken the same way:
    # Ben has Cy's and Dee's points in fewer answers, Dee got there after Cy, Fay is Eve's twin
    service = rich_world.service()
    ranks = [(await service.member_stats(row.member_id)).rank for row in rows]
    assert ranks == [1, 2, 3, 4, 5, 6]


async def test_member_stats_read_the_workspace_total_of_a_member_scoring_in_two_channels(
    rich_world,
):
    ws = await rich_world.workspace("UTC")
    first = await rich_world.channel(ws, "first", "UTC")
    second = await rich_world.channel(ws, "second", "UTC")
    ana, ben = await rich_world.member(ws, "Ana"), await rich_world.member(ws, "Ben")
    await rich_world.score(ws, first, ana, START, 100)
    await rich_world.score(ws, second, ana, START + timedelta(hours=1), 50, Difficulty.ADVANCED)
    await rich_world.score(ws, second, ana, START + timedelta(days=1), 90, Difficulty.BEGINNER)
    await rich_world.score(ws, first, ben, START, 100, Difficulty.ADVANCED)
    points = sum(record.points for record in rich_world.records if record.member_id == ana)
    assert points > 30  # more than Ben, who scored more in each channel alone
    stats = await rich_world.service().member_stats(ana)
    assert (stats.points, stats.daily_answers, stats.rank) == (points, 3, 1)
    assert stats.average_score == pytest.approx((100 + 50 + 90) / 3)
    assert (await rich_world.service().member_stats(ben)).rank == 2


async def test_a_channel_board_counts_only_that_channel_and_a_workspace_board_only_its_own(
    rich_world,
):
    ws = await rich_world.workspace("UTC")
    other_ws = await rich_world.workspace("UTC", "Other")
    east = await rich_world.channel(ws, "east", "UTC")
    west = await rich_world.channel(ws, "west", "UTC")
    elsewhere = await rich_world.channel(other_ws, "elsewhere", "UTC")
    ana, ben = await rich_world.member(ws, "Ana"), await rich_world.member(ws, "Ben")
    zed = await rich_world.member(other_ws, "Zed")
    await rich_world.score(ws, east, ana, START, 64)  # 13
    await rich_world.score(ws, west, ben, START, 91)  # 18
    await rich_world.score(ws, west, ana, START + timedelta(days=1), 12)  # 2
    await rich_world.score(other_ws, elsewhere, zed, START, 100)
    service = rich_world.service()

    def named(rows):
        return [(row.display_name, row.points, row.answers) for row in rows]

    assert named(await service.leaderboard(ws, Period.ALL, channel_id=east)) == [("Ana", 13, 1)]
    assert named(await service.leaderboard(ws, Period.ALL, channel_id=west)) == [
        ("Ben", 18, 1),
        ("Ana", 2, 1),
    ]
    assert named(await service.leaderboard(ws, Period.ALL)) == [("Ben", 18, 1), ("Ana", 15, 2)]
    assert named(await service.leaderboard(other_ws, Period.ALL)) == [("Zed", 20, 1)]


async def test_member_stats_count_graded_answers_and_average_their_current_grades(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    ana, ben = await rich_world.member(ws, "Ana"), await rich_world.member(ws, "Ben")
    first = await rich_world.score(ws, channel, ana, START, 37)  # 7
    await rich_world.score(ws, channel, ana, START + timedelta(days=1), 82)  # 16
    await rich_world.score(ws, channel, ben, START, 9)  # 2
    await rich_world.score(ws, channel, ben, START + timedelta(days=1), 61)  # 12
    async with rich_world.sessions() as session, session.begin():
        # an older, replaced grade of Ana's first answer: not her current grade, not averaged
        answer_id = (
            await session.execute(
                sa.select(ScoreEvent.answer_id).where(
                    ScoreEvent.daily_post_id == first.daily_post_id, ScoreEvent.member_id == ana
                )
            )
        ).scalar_one()
        session.add(GradeRecord(answer_id=answer_id, grader="old", score=3, created_at=START))
    stats = await rich_world.service().member_stats(ana)
    assert (stats.points, stats.daily_answers, stats.rank) == (23, 2, 1)
    assert stats.average_score == 59.5
    ben_stats = await rich_world.service().member_stats(ben)
    assert (ben_stats.points, ben_stats.daily_answers, ben_stats.rank) == (14, 2, 2)
    assert ben_stats.average_score == 35.0


async def test_periods_start_in_the_workspace_zone_and_in_the_channel_zone_for_a_channel(
    rich_world,
):
    # Wednesday 4 March 12:00 UTC. The week began on Monday 00:00 local: 1 March 10:00 UTC in
    # Kiritimati (UTC+14), 2 March 10:00 UTC in Honolulu (UTC-10).
    rich_world.clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    ws = await rich_world.workspace(EAST_ZONE)
    east = await rich_world.channel(ws, "east", EAST_ZONE)
    west = await rich_world.channel(ws, "west", WEST_ZONE)
    names = ("Ana", "Ben", "Cy", "Dee")
    ana, ben, cy, dee = [await rich_world.member(ws, name) for name in names]
    east_start, west_start = local(EAST_ZONE, 2026, 3, 2), local(WEST_ZONE, 2026, 3, 2)
    assert (east_start, west_start) == (
        datetime(2026, 3, 1, 10, tzinfo=UTC),
        datetime(2026, 3, 2, 10, tzinfo=UTC),
    )
    second = timedelta(seconds=1)
    await rich_world.score(ws, east, ana, east_start, 100)  # exactly at the start: counts
    await rich_world.score(ws, east, ben, east_start - second, 90)  # one second before
    await rich_world.score(ws, west, cy, west_start, 80)
    await rich_world.score(ws, west, dee, west_start - second, 70)
    service = rich_world.service()
    week = await service.leaderboard(ws, Period.WEEK)
    assert [row.display_name for row in week] == ["Ana", "Cy", "Dee"]
    assert [row.display_name for row in week] == [
        name for _, name, _, _ in rich_world.expected_board(ws, east_start)
    ]
    west_week = await service.leaderboard(ws, Period.WEEK, channel_id=west)
    assert [row.display_name for row in west_week] == ["Cy"]
    # the month began on 1 March 00:00 local: 28 February 10:00 UTC in Kiritimati
    month = await service.leaderboard(ws, Period.MONTH)
    assert [row.display_name for row in month] == ["Ana", "Ben", "Cy", "Dee"]
    west_month = await service.leaderboard(ws, Period.MONTH, channel_id=west)
    assert [row.display_name for row in west_month] == ["Cy", "Dee"]


def test_period_start_far_east_far_west_and_across_a_dst_change():
    now = datetime(2026, 3, 1, 9, 59, tzinfo=UTC)  # still Sunday 1 March in Kiritimati
    assert period_start(Period.WEEK, now, EAST_ZONE) == datetime(2026, 2, 22, 10, tzinfo=UTC)
    assert period_start(Period.WEEK, now + timedelta(minutes=1), EAST_ZONE) == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )  # Monday 00:00 local, exactly
    assert period_start(Period.MONTH, now, EAST_ZONE) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    # 1 March 09:00 UTC is still 28 February 23:00 in Honolulu: February's month
    assert period_start(Period.MONTH, now, WEST_ZONE) == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert period_start(Period.MONTH, datetime(2026, 3, 1, 10, tzinfo=UTC), WEST_ZONE) == datetime(
        2026, 3, 1, 10, tzinfo=UTC
    )
    # Berlin moves to summer time on Sunday 29 March 2026: that week began at 23:00 UTC (CET),
    # the next one at 22:00 UTC (CEST); April began at 22:00 UTC
    sunday = datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert period_start(Period.WEEK, sunday, DST_ZONE) == datetime(2026, 3, 22, 23, tzinfo=UTC)
    monday = datetime(2026, 3, 30, 12, tzinfo=UTC)
    assert period_start(Period.WEEK, monday, DST_ZONE) == datetime(2026, 3, 29, 22, tzinfo=UTC)
    april = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    assert period_start(Period.MONTH, april, DST_ZONE) == datetime(2026, 3, 31, 22, tzinfo=UTC)


async def test_the_board_shows_the_top_ten_and_a_member_without_answers_is_unranked(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    members = [await rich_world.member(ws, f"M{index:02d}") for index in range(12)]
    for index, member in enumerate(members):  # M11 scores most, M00 least
        await rich_world.score(ws, channel, member, START, 5 + 8 * index)
    idle = await rich_world.member(ws, "Idle")
    service = rich_world.service()
    rows = await service.leaderboard(ws, Period.ALL)
    assert [row.rank for row in rows] == list(range(1, 11))
    assert [row.display_name for row in rows] == [f"M{index:02d}" for index in range(11, 1, -1)]
    got = [(row.rank, row.display_name, row.points, row.answers) for row in rows]
    assert got == rich_world.expected_board(ws, None)
    assert len(await service.leaderboard(ws, Period.ALL, limit=11)) == 11
    stats = await service.member_stats(idle)
    assert (stats.points, stats.daily_answers, stats.rank, stats.average_score) == (
        0,
        0,
        None,
        None,
    )
    assert stats.streak.current == 0 and stats.streak.longest == 0
    last = await service.member_stats(members[0])
    assert last.rank == 12


async def _played_posts(engine, now: datetime, rng: random.Random) -> None:
    """Three channels of 61 daily posts each (the last two open, one expired and never closed)
    and twelve members who answer some of them in runs and gaps, some twice, a few late."""
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(Workspace),
            [{"id": 1, "platform": "slack", "external_id": "T", "created_at": now}],
        )
        await connection.execute(
            sa.insert(Channel),
            [
                {
                    "id": channel,
                    "workspace_id": 1,
                    "external_id": f"C{channel}",
                    "name": f"c{channel}",
                    "created_at": now,
                    "updated_at": now,
                }
                for channel in (1, 2, 3)
            ],
        )
        await connection.execute(
            sa.insert(Member),
            [
                {"id": member, "workspace_id": 1, "external_id": f"U{member}", "created_at": now}
                for member in range(1, 13)
            ],
        )
        await connection.execute(
            sa.insert(QuestionVersion),
            [
                {
                    "id": 1,
                    "bank_id": "q",
                    "content_hash": "h",
                    "topic": "t",
                    "difficulty": Difficulty.BEGINNER,
                    "prompt": "P?",
                    "reference": "R.",
                    "created_at": now,
                }
            ],
        )
        posts, post_id = [], 0
        for channel in (1, 2, 3):
            for back in range(60, -1, -1):
                post_id += 1
                opened = now - timedelta(days=back, hours=2)
                closes = opened + timedelta(hours=23 if back else 30)
                # the last two are open; one of the older ones expired but was never closed
                closed = None if back <= 1 or back == 20 else closes
                posts.append(
                    {
                        "id": post_id,
                        "channel_id": channel,
                        "local_date": (now - timedelta(days=back)).date(),
                        "question_id": 1,
                        "opened_at": opened,
                        "closes_at": closes,
                        "closed_at": closed,
                    }
                )
        await connection.execute(sa.insert(DailyPost), posts)
        answers = []
        for member in range(1, 13):
            for channel in rng.sample((1, 2, 3), rng.randint(1, 3)):
                keep = rng.choice((0.5, 0.8, 0.95))
                answering = rng.random() < keep
                for post in (post for post in posts if post["channel_id"] == channel):
                    if rng.random() < 0.15:  # runs and gaps of several posts
                        answering = rng.random() < keep
                    if not answering:
                        continue
                    count = rng.choice((1, 1, 1, 2))
                    for number in range(count):
                        answers.append(
                            {
                                "member_id": member,
                                "question_id": 1,
                                "daily_post_id": post["id"],
                                "text": "an answer",
                                "scored": rng.random() > 0.05,  # a few late: no streak
                                "superseded": number < count - 1,
                                "submitted_at": now,
                                "updated_at": now,
                            }
                        )
        await connection.execute(sa.insert(Answer), answers)


async def test_a_members_streaks_from_their_answers_equal_the_streaks_over_whole_histories(
    engine, sessions, clock
):
    """``member_streaks`` reads only the posts after each answered one; on random histories
    (long runs that earn freezes, misses that spend them, gaps longer than the freezes, posts
    still open, an expired post never closed, resubmissions, late answers) it must equal
    ``channel_streaks``, which walks every post of the channel."""
    rng = random.Random(1417)
    now = clock.now()
    await _played_posts(engine, now, rng)
    async with sessions() as session:
        compared = 0
        for member in range(1, 13):
            fast = await member_streaks(session, now, member)
            full = {}
            for channel in (1, 2, 3):
                streak = (await channel_streaks(session, now, channel, [member])).get(member)
                if streak is not None:
                    full[channel] = streak
                    assert await member_streaks(session, now, member, channel) == {channel: streak}
            assert fast == full, member
            compared += len(full)
        assert compared >= 12
        streaks = [
            streak
            for member in range(1, 13)
            for streak in (await member_streaks(session, now, member)).values()
        ]
    # the histories did what they are for: freezes earned and spent, streaks long and broken
    assert any(streak.freezes_used for streak in streaks)
    assert any(streak.current == 0 and streak.longest > 0 for streak in streaks)
    assert any(streak.current >= 7 for streak in streaks)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)  # SQLite's planner needs it
async def test_member_stats_search_indexes_after_analyze(engine, sessions, clock, db_backend):
    """After ANALYZE, no statement member stats runs scans a table: its streak history comes
    from the answer index and the channels' (channel, date) index, its average and rank from
    the rollups."""
    now = clock.now()
    await _played_posts(engine, now, random.Random(7))
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    boards = LeaderboardService(sessions, clock)
    try:
        for member in (1, 2, 3):
            await boards.member_stats(member)
            await boards.member_stats(member, channel_id=2)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert any("later_post" in statement for statement, _ in statements)
    async with engine.connect() as connection:
        for statement, parameters in statements:
            plan = [
                str(row[-1])
                for row in await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            ]
            assert not [step for step in plan if step.startswith("SCAN ")], (statement, plan)
            if "later_post" in statement:  # the streak history: both reads from indexes alone
                assert any("COVERING INDEX ix_answer_member_history" in step for step in plan)
                assert any("COVERING INDEX ix_daily_post_history" in step for step in plan)


# --- Streaks over a channel's posts: open, closed and closing posts, order, scope -------------

NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


class _Posts:
    """Daily posts and answers written directly, to place a post's closing exactly."""

    def __init__(self, rich_world):
        self.world = rich_world
        rich_world.clock.set(NOW)

    async def post(
        self, channel: int, day: int, *, closes_at: datetime, closed_at: datetime | None
    ) -> int:
        async with self.world.sessions() as session, session.begin():
            row = DailyPost(
                channel_id=channel,
                local_date=date(2026, 3, day),
                question_id=self.world.questions[Difficulty.INTERMEDIATE],
                opened_at=datetime(2026, 3, day, 7, tzinfo=UTC),
                closes_at=closes_at,
                closed_at=closed_at,
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            return row.id

    async def closed(self, channel: int, day: int) -> int:
        ends = datetime(2026, 3, day, 23, tzinfo=UTC)
        return await self.post(channel, day, closes_at=ends, closed_at=ends)

    async def answer(
        self,
        member: int,
        post: int | None,
        *,
        scored: bool = True,
        kind: AnswerKind = AnswerKind.DAILY,
        grade: int | None = None,
    ) -> None:
        """An answer; with ``grade`` also its current grade."""
        async with self.world.sessions() as session, session.begin():
            at = datetime(2026, 3, 1, 8, tzinfo=UTC)
            row = Answer(
                member_id=member,
                question_id=self.world.questions[Difficulty.INTERMEDIATE],
                daily_post_id=post,
                kind=kind,
                text="an answer",
                status=AnswerStatus.GRADED if grade is not None else AnswerStatus.PENDING,
                scored=scored,
                submitted_at=at,
                updated_at=at,
            )
            session.add(row)
            await session.flush()
            if grade is not None:
                assert row.id is not None
                record = GradeRecord(answer_id=row.id, grader="test", score=grade, created_at=at)
                session.add(record)
                await session.flush()
                row.current_grade_id = record.id

    async def streaks(self, channel: int) -> dict[int, Streak]:
        async with self.world.sessions() as session:
            return await channel_streaks(session, NOW, channel)

    async def stats_streak(self, member: int, channel: int | None = None) -> tuple[Streak, str]:
        stats = await self.world.service().member_stats(member, channel_id=channel)
        return stats.streak, stats.streak_note


async def _three_views(posts: _Posts, member: int, channel: int) -> tuple[int, int]:
    """(current, longest) of the member in the channel, the same from the channel's streaks,
    the member's stats for that channel and the member's stats over all channels."""
    from_channel = (await posts.streaks(channel))[member]
    in_channel, _ = await posts.stats_streak(member, channel)
    overall, note = await posts.stats_streak(member)
    assert from_channel == in_channel == overall
    assert note == ""  # one channel: no note
    return from_channel.current, from_channel.longest


async def test_a_post_is_missed_once_closed_or_at_its_closing_instant_but_not_while_open(
    rich_world,
):
    ws = await rich_world.workspace("UTC")
    posts = _Posts(rich_world)
    # the third post's state, per channel: (closes_at, closed_at)
    third = {
        "at-closing-instant": (NOW, None),
        "closed-early": (NOW + timedelta(hours=5), NOW - timedelta(hours=1)),
        "still-open": (NOW + timedelta(hours=5), None),
    }
    current = {}
    for name, (closes_at, closed_at) in third.items():
        channel = await rich_world.channel(ws, name, "UTC")
        member = await rich_world.member(ws, f"Ana {name}")
        for day in (1, 2):
            await posts.answer(member, await posts.closed(channel, day))
        await posts.post(channel, 3, closes_at=closes_at, closed_at=closed_at)
        current[name] = await _three_views(posts, member, channel)
    # a window longer than a day: the third post is still open when the fourth is answered
    channel = await rich_world.channel(ws, "two-open", "UTC")
    member = await rich_world.member(ws, "Ana two-open")
    for day in (1, 2):
        await posts.answer(member, await posts.closed(channel, day))
    await posts.post(channel, 3, closes_at=NOW + timedelta(hours=2), closed_at=None)
    fourth = await posts.post(channel, 4, closes_at=NOW + timedelta(hours=26), closed_at=None)
    await posts.answer(member, fourth)
    current["two-open"] = await _three_views(posts, member, channel)
    assert current == {
        "at-closing-instant": (0, 2),
        "closed-early": (0, 2),
        "still-open": (2, 2),
        "two-open": (3, 3),
    }


async def test_a_channel_streak_follows_the_post_dates_and_names_the_day_a_freeze_covered(
    rich_world,
):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    ana = await rich_world.member(ws, "Ana")
    ben = await rich_world.member(ws, "Ben")
    posts = _Posts(rich_world)
    # posts written out of date order: the ninth day's first
    ninth = await posts.closed(channel, 9)
    for day in range(1, 8):
        await posts.answer(ana, await posts.closed(channel, day))
    await posts.answer(ben, await posts.closed(channel, 8))  # Ana misses the eighth
    await posts.answer(ana, ninth)
    await posts.answer(ben, ninth)
    streaks = await posts.streaks(channel)
    assert streaks[ana] == Streak(  # the freeze keeps the run going but counts no answer
        current=8,
        longest=8,
        freezes=0,
        freezes_used=(date(2026, 3, 8),),
        last_answered=date(2026, 3, 9),
    )
    assert (streaks[ben].current, streaks[ben].longest) == (2, 2)
    assert (await posts.stats_streak(ana)) == (streaks[ana], "")


async def test_a_channel_streak_counts_only_scored_answers_to_that_channels_posts(rich_world):
    ws = await rich_world.workspace("UTC")
    here = await rich_world.channel(ws, "here", "UTC")
    there = await rich_world.channel(ws, "there", "UTC")
    ana = await rich_world.member(ws, "Ana")
    late = await rich_world.member(ws, "Late")
    elsewhere = await rich_world.member(ws, "Elsewhere")
    posts = _Posts(rich_world)
    for day in (1, 2):
        post = await posts.closed(here, day)
        await posts.answer(ana, post)
        await posts.answer(late, post, scored=False)
        await posts.answer(elsewhere, await posts.closed(there, day))
    streaks = await posts.streaks(here)
    assert sorted(streaks) == [ana]
    assert (streaks[ana].current, streaks[ana].longest) == (2, 2)
    assert sorted(await posts.streaks(there)) == [elsewhere]


async def test_the_streak_board_ranks_current_then_longest_then_member_and_shows_ten(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    # one post a day for nine days: 'x' answered, '.' missed
    patterns = {
        "Ada": "xxxxxxxxx",  # current 9
        "Bo": "......xxx",  # current 3, longest 3
        "Cy": "xxx......",  # current 0: not on the board
        "Di": "xxxxx.xxx",  # current 3, longest 5: ahead of Bo
        "Ed": "......xxx",  # as Bo: the lower member id first
        "Fa": "........x",  # current 1
    }
    patterns.update({f"N{index}": "........x" for index in range(7)})
    members = {name: await rich_world.member(ws, name) for name in patterns}
    for day in range(9):
        at = datetime(2026, 3, day + 1, 9, tzinfo=UTC)
        for name, pattern in patterns.items():
            if pattern[day] == "x":
                await rich_world.score(ws, channel, members[name], at, 70)
    board = await rich_world.service().streak_board(channel)
    expected_order = ["Ada", "Di", "Bo", "Ed", "Fa", "N0", "N1", "N2", "N3", "N4"]
    assert [(row.rank, row.member_id, row.display_name) for row in board] == [
        (rank, members[name], name) for rank, name in enumerate(expected_order, start=1)
    ]
    assert [(row.streak.current, row.streak.longest) for row in board[:5]] == [
        (9, 9),
        (3, 5),
        (3, 3),
        (3, 3),
        (1, 1),
    ]
    assert len(await rich_world.service().streak_board(channel, limit=20)) == 12


async def test_member_stats_count_the_members_graded_practice_and_mock_answers_only(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    ana, ben = await rich_world.member(ws, "Ana"), await rich_world.member(ws, "Ben")
    posts = _Posts(rich_world)
    await rich_world.score(ws, channel, ana, START, 80)  # daily: not practice
    for kind in (AnswerKind.PRACTICE, AnswerKind.PRACTICE, AnswerKind.MOCK):
        await posts.answer(ana, None, scored=False, kind=kind, grade=70)
    await posts.answer(ana, None, scored=False, kind=AnswerKind.PRACTICE)  # not graded yet
    await posts.answer(ben, None, scored=False, kind=AnswerKind.PRACTICE, grade=90)
    service = rich_world.service()
    ana_stats, ben_stats = await service.member_stats(ana), await service.member_stats(ben)
    assert (ana_stats.member_id, ana_stats.display_name) == (ana, "Ana")
    assert (ana_stats.practice_answers, ana_stats.daily_answers) == (3, 1)
    assert (ben_stats.practice_answers, ben_stats.daily_answers) == (1, 0)


async def test_member_stats_name_the_best_channel_only_when_there_are_several(rich_world):
    ws = await rich_world.workspace("UTC")
    alpha = await rich_world.channel(ws, "alpha", "UTC")
    beta = await rich_world.channel(ws, "beta", "UTC")
    gamma = await rich_world.channel(ws, "gamma", "UTC")
    ana, ben = await rich_world.member(ws, "Ana"), await rich_world.member(ws, "Ben")
    idle = await rich_world.member(ws, "Idle")
    posts = _Posts(rich_world)
    for day in (1, 2):
        await posts.answer(ana, await posts.closed(alpha, day))
        await posts.answer(ben, await posts.closed(beta, day))
        late = await posts.closed(gamma, day)
        await posts.answer(ben, late)
        await posts.answer(ana, late, scored=False)  # late: neither a streak nor a channel
    # an open post in each channel: not a miss yet
    for channel in (alpha, beta, gamma):
        await posts.post(channel, 3, closes_at=NOW + timedelta(hours=1), closed_at=None)
    ana_all, ana_note = await posts.stats_streak(ana)
    assert ((ana_all.current, ana_all.longest), ana_note) == ((2, 2), "")
    ana_beta, ana_beta_note = await posts.stats_streak(ana, beta)
    assert (ana_beta, ana_beta_note) == (Streak(0, 0), "")
    ana_alpha, _ = await posts.stats_streak(ana, alpha)
    assert (ana_alpha.current, ana_alpha.longest) == (2, 2)
    # Ben's two channels tie: the first channel is named
    ben_all, ben_note = await posts.stats_streak(ben)
    assert ((ben_all.current, ben_all.longest), ben_note) == ((2, 2), "Streak in #beta")
    assert (await posts.stats_streak(idle)) == (Streak(0, 0), "")


async def test_the_week_board_turns_over_at_the_workspaces_midnight_not_utcs(rich_world):
    ws = await rich_world.workspace(EAST_ZONE)
    channel = await rich_world.channel(ws, "prep", EAST_ZONE)
    ana = await rich_world.member(ws, "Ana")
    # Sunday 8 March 23:00 in Kiritimati (09:00 UTC): last week's answer
    await rich_world.score(ws, channel, ana, local(EAST_ZONE, 2026, 3, 8, 23), 90)
    rich_world.clock.set(local(EAST_ZONE, 2026, 3, 9, 1))  # Monday 01:00 there, Sunday in UTC
    service = rich_world.service()
    assert await service.leaderboard(ws, Period.WEEK) == []
    assert await service.leaderboard(ws, Period.WEEK, channel_id=channel) == []
    assert [row.display_name for row in await service.leaderboard(ws, Period.MONTH)] == ["Ana"]


async def test_the_board_of_an_unknown_workspace_is_empty(rich_world):
    service = rich_world.service()
    for period in Period:
        assert await service.leaderboard(404, period) == []


async def test_member_stats_name_the_channel_with_the_best_streak_by_current_then_longest(
    rich_world,
):
    """Equal current streaks: the longer longest streak wins; equal on both: the first channel,
    even when the two streaks differ otherwise (their last answers); a best channel with no
    name gives no note."""
    ws = await rich_world.workspace("UTC")
    beta = await rich_world.channel(ws, "beta", "UTC")
    gamma = await rich_world.channel(ws, "gamma", "UTC")
    unnamed = await rich_world.channel(ws, "", "UTC")
    delta = await rich_world.channel(ws, "delta", "UTC")
    ana, ben, cy = [await rich_world.member(ws, name) for name in ("Ana", "Ben", "Cy")]
    posts = _Posts(rich_world)
    # Ana: gamma 1-3 answered, 4-9 missed, 10-11 answered (current 2, longest 3); beta 10-11
    # answered (current 2, longest 2)
    for day in range(1, 12):
        post = await posts.closed(gamma, day)
        if day <= 3 or day >= 10:
            await posts.answer(ana, post)
    for day in (10, 11):
        await posts.answer(ana, await posts.closed(beta, day))
    ana_best, ana_note = await posts.stats_streak(ana)
    assert ((ana_best.current, ana_best.longest), ana_note) == ((2, 3), "Streak in #gamma")
    # Ben: delta has posts on days 9-10 only, the unnamed channel on 10-11: both (2, 2), last
    # answered on different days; the first channel (the unnamed one) is the best: no note
    for day in (9, 10):
        await posts.answer(ben, await posts.closed(delta, day))
    for day in (10, 11):
        await posts.answer(ben, await posts.closed(unnamed, day))
    ben_best, ben_note = await posts.stats_streak(ben)
    assert ((ben_best.current, ben_best.longest), ben_note) == ((2, 2), "")
    assert ben_best.last_answered == date(2026, 3, 11)
    # Cy: only delta: one channel, no note
    await posts.answer(cy, await posts.closed(delta, 11))
    cy_best, cy_note = await posts.stats_streak(cy)
    assert (cy_best.current, cy_note) == (1, "")


async def test_the_board_of_an_unknown_channel_is_empty(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    ana = await rich_world.member(ws, "Ana")
    await rich_world.score(ws, channel, ana, rich_world.clock.now(), 80)
    service = rich_world.service()
    for period in Period:
        assert await service.leaderboard(ws, period, channel_id=999_999) == []
    assert [row.display_name for row in await service.leaderboard(ws, Period.ALL)] == ["Ana"]
