"""The leaderboard rollups against a recount: after a seeded random history of scores,
resubmissions, provisional grades that are requeued and re-graded, and admin overrides, over two
channels in different zones and across week and month boundaries, every ``leaderboard_total``
row (with its score sum), every board and every member's rank and average score equal what the
score events and the answers' current grades themselves say. On SQLite
the board and rank queries keep their indexes after ANALYZE."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.grading.base import GradingError
from bot.services.channels import ConfigChange
from bot.services.disputes import Disputes
from bot.services.grading import GradingWorker
from bot.services.leaderboard import LeaderboardService, Period, period_start
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    GradeRecord,
    LeaderboardTotal,
    Member,
    Platform,
    ScoreEvent,
    Workspace,
)
from tests.fakes.graders import ScriptedGrader

TEXTS = ("gradients weights loss", "gradients only", "weights and loss", "nothing relevant")


class HalvingGrader(ScriptedGrader):
    """The fallback: the scripted grade at half the score (so a requeue changes the points)."""

    async def grade(self, item, answer):
        grade = await super().grade(item, answer)
        return dataclasses.replace(grade, score=grade.score // 2)


def _utc(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=ZoneInfo("UTC"))


async def _recount(sessions) -> dict[tuple[int, int, int], tuple]:
    """What each ``leaderboard_total`` row must hold, straight from the score events: all-time
    (points, answers, last) and the (start, points, answers, last) of the latest week and month
    with an event, in the scope's zone."""
    async with sessions() as session:
        zones = dict((await session.execute(sa.select(Workspace.id, Workspace.timezone))).all())
        channel_zones = dict((await session.execute(sa.select(Channel.id, Channel.timezone))).all())
        # each event's points with the score of its answer's current grade (what the average
        # of member stats is taken over), and the score the event itself kept
        events = (
            await session.execute(
                sa.select(
                    ScoreEvent.workspace_id,
                    ScoreEvent.channel_id,
                    ScoreEvent.member_id,
                    ScoreEvent.points,
                    ScoreEvent.occurred_at,
                    GradeRecord.score,
                    ScoreEvent.score,
                )
                .join(Answer, Answer.id == ScoreEvent.answer_id)
                .join(GradeRecord, GradeRecord.id == Answer.current_grade_id)
            )
        ).all()
        assert len(events) == await session.scalar(sa.select(sa.func.count(ScoreEvent.id)))
    grouped = defaultdict(list)
    for workspace_id, channel_id, member_id, points, occurred_at, score, kept in events:
        assert kept == score
        grouped[(workspace_id, 0, member_id)].append(
            (points, _utc(occurred_at), zones[workspace_id], score)
        )
        grouped[(workspace_id, channel_id, member_id)].append(
            (points, _utc(occurred_at), channel_zones[channel_id], score)
        )

    def summary(items):
        return (sum(p for p, _ in items), len(items), max(t for _, t in items))

    expected = {}
    for key, items in grouped.items():
        locals_ = [(p, t, t.astimezone(ZoneInfo(zone)).date()) for p, t, zone, _ in items]
        weeks = [(p, t, day - timedelta(days=day.weekday())) for p, t, day in locals_]
        months = [(p, t, day.replace(day=1)) for p, t, day in locals_]
        latest = []
        for keyed in (weeks, months):
            start = max(k for _, _, k in keyed)
            latest.append((start, *summary([(p, t) for p, t, k in keyed if k == start])))
        everything = summary([(p, t) for p, t, _, _ in items])
        expected[key] = ((*everything, sum(score for *_, score in items)), *latest)
    return expected


async def _stored(sessions) -> dict[tuple[int, int, int], tuple]:
    async with sessions() as session:
        rows = (await session.execute(sa.select(LeaderboardTotal))).scalars().all()
    return {
        (row.workspace_id, row.channel_id, row.member_id): (
            (row.points, row.answers, row.last_at, row.score_sum),
            (row.week_start, row.week_points, row.week_answers, row.week_last_at),
            (row.month_start, row.month_points, row.month_answers, row.month_last_at),
        )
        for row in rows
    }


async def _reference_board(sessions, now, workspace_id, channel_id, period):
    """Today's ranking before the rollups: an aggregation over ``score_event``."""
    async with sessions() as session:
        zone = (await session.get(Workspace, workspace_id)).timezone
        if channel_id is not None:
            zone = (await session.get(Channel, channel_id)).timezone
        total = sa.func.sum(ScoreEvent.points)
        count = sa.func.count(ScoreEvent.id)
        last = sa.func.max(ScoreEvent.occurred_at)
        query = (
            sa.select(ScoreEvent.member_id, Member.display_name, total, count)
            .join(Member, Member.id == ScoreEvent.member_id)
            .where(ScoreEvent.workspace_id == workspace_id)
            .group_by(ScoreEvent.member_id, Member.display_name)
            .order_by(total.desc(), count.desc(), last.asc(), ScoreEvent.member_id.asc())
        )
        if channel_id is not None:
            query = query.where(ScoreEvent.channel_id == channel_id)
        start = period_start(period, now, zone)
        if start is not None:
            query = query.where(ScoreEvent.occurred_at >= start)
        return [tuple(row) for row in (await session.execute(query)).all()]


async def _check(world, sessions, clock, channels) -> int:
    """Rows, boards and ranks against the recount; returns how many members are ranked."""
    assert await _stored(sessions) == await _recount(sessions)
    boards = world.leaderboards
    for channel_id in (None, *channels):
        for period in Period:
            rows = await boards.leaderboard(
                world.workspace_id, period, channel_id=channel_id, limit=1000
            )
            got = [(row.member_id, row.display_name, row.points, row.answers) for row in rows]
            assert got == await _reference_board(
                sessions, clock.now(), world.workspace_id, channel_id, period
            ), (channel_id, period)
    ranking = await _reference_board(sessions, clock.now(), world.workspace_id, None, Period.ALL)
    averages = await _reference_averages(sessions)
    for place, (member_id, _, points, answers) in enumerate(ranking, start=1):
        stats = await boards.member_stats(member_id)
        assert (stats.rank, stats.points, stats.daily_answers) == (place, points, answers)
        assert stats.average_score == pytest.approx(averages[member_id])
    return len(ranking)


async def _reference_averages(sessions) -> dict[int, float]:
    """Each member's average score as member stats computed it before the rollups kept it: the
    current grades of the answers behind their score events."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(ScoreEvent.member_id, sa.func.avg(GradeRecord.score))
            .join(Answer, Answer.id == ScoreEvent.answer_id)
            .join(GradeRecord, GradeRecord.id == Answer.current_grade_id)
            .group_by(ScoreEvent.member_id)
        )
        return {member_id: float(average) for member_id, average in rows.all()}


async def _live_daily_answers(sessions) -> list[int]:
    async with sessions() as session:
        return list(
            (
                await session.execute(
                    sa.select(Answer.id)
                    .where(
                        Answer.status == AnswerStatus.GRADED,
                        Answer.scored.is_(True),
                        Answer.superseded.is_(False),
                    )
                    .order_by(Answer.id)
                )
            ).scalars()
        )


async def test_rollups_equal_a_recount_after_a_random_history(world, sessions, clock):
    rng = random.Random(20261130)
    # a second channel six hours behind the workspace: its weeks and months start later
    second_admin = await world.directory.resolve(
        Platform.SLACK,
        "T1",
        "UADMIN",
        channel_external_id="C2",
        channel_name="second",
        member_name="Admin",
        is_admin=True,
    )
    assert second_admin.channel_id is not None
    await world.channels.update(
        second_admin,
        second_admin.channel_id,
        ConfigChange(
            enabled=True,
            days="daily",
            post_time="07:00",
            timezone="America/New_York",
            answer_window="23h",
        ),
    )
    channels = (world.channel_id, second_admin.channel_id)
    people = [(f"U{index}", f"Member {index}") for index in range(1, 8)]
    actors = {
        channel: [
            await world.directory.resolve(
                Platform.SLACK, "T1", external_id, channel_external_id=f"C{n}", member_name=name
            )
            for external_id, name in people
        ]
        for n, channel in enumerate(channels, start=1)
    }
    disputes = Disputes(sessions, clock)
    primary, fallback = ScriptedGrader(), HalvingGrader()
    worker = GradingWorker(sessions, primary, fallback, clock)
    clock.set(datetime(2026, 3, 23, 12, 0, tzinfo=ZoneInfo("UTC")))  # Monday, before DST
    overrides = requeues = resubmissions = 0
    for _ in range(16):  # to 7 April: two month starts in New York, a DST change, three weeks
        await world.daily.close_due()
        for channel in channels:
            opened = await world.daily.open_due(channel)
            assert opened is not None
            assert opened.post.id is not None
            for actor in rng.sample(actors[channel], rng.randint(2, len(people))):
                await world.submit(actor, opened, rng.choice(TEXTS))
                clock.advance(timedelta(minutes=rng.randint(1, 90)))
                if rng.random() < 0.3:  # the grade comes in before the resubmission
                    primary.failures.extend([GradingError("down")] * rng.randint(0, 1))
                    await worker.drain()
                if rng.random() < 0.3:
                    await world.submit(actor, opened, rng.choice(TEXTS))
                    resubmissions += 1
        primary.failures.extend([GradingError("down")] * rng.randint(0, 3))
        await worker.drain()
        live = await _live_daily_answers(sessions)
        for answer_id in rng.sample(live, min(len(live), rng.randint(0, 2))):
            await disputes.override(world.admin, answer_id, rng.randint(0, 100), "a second look")
            overrides += 1
        if rng.random() < 0.5:
            requeues += await worker.requeue()
            await worker.drain()
        await _check(world, sessions, clock, channels)
        clock.advance(timedelta(hours=rng.choice((22, 24, 26, 30))))
    assert min(overrides, requeues, resubmissions) > 0
    # a week later nobody scored this week: the week boards are empty, all time is not
    clock.advance(timedelta(days=8))
    assert await world.leaderboards.leaderboard(world.workspace_id, Period.WEEK) == []
    assert await _check(world, sessions, clock, channels) == len(people)


async def test_a_channels_new_zone_moves_its_week_boundaries(world, sessions, clock):
    opened = await world.open()  # Monday 2 March, 09:00 Berlin
    await world.submit(world.alice, opened, TEXTS[0])
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    # Sunday 8 March 23:30 UTC: Monday already in Berlin, still Sunday in New York
    clock.set(datetime(2026, 3, 8, 23, 30, tzinfo=ZoneInfo("UTC")))
    boards = world.leaderboards
    assert (
        await boards.leaderboard(world.workspace_id, Period.WEEK, channel_id=world.channel_id) == []
    )
    await world.channels.update(
        world.admin, world.channel_id, ConfigChange(timezone="America/New_York")
    )
    [row] = await boards.leaderboard(world.workspace_id, Period.WEEK, channel_id=world.channel_id)
    assert row.member_id == world.alice.member_id
    assert await _stored(sessions) == await _recount(sessions)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)  # SQLite's planner needs it
async def test_board_and_rank_queries_keep_their_index_after_analyze(
    engine, sessions, clock, db_backend
):
    """Thousands of rows in two workspaces, ANALYZE, then every statement the boards and the
    stats run against ``leaderboard_total`` must search one of its board indexes."""
    now = clock.now()
    async with engine.begin() as connection:
        for workspace_id in (1, 2):
            await connection.execute(
                sa.insert(Workspace),
                [
                    {
                        "id": workspace_id,
                        "platform": "slack",
                        "external_id": f"T{workspace_id}",
                        "timezone": "UTC",
                        "created_at": now,
                    }
                ],
            )
        await connection.execute(
            sa.insert(Member),
            [
                {
                    "id": member,
                    "workspace_id": 1 + member % 2,
                    "external_id": f"U{member}",
                    "display_name": f"m{member}",
                    "created_at": now,
                }
                for member in range(1, 2001)
            ],
        )
        this_week = period_start(Period.WEEK, now, "UTC").date()
        await connection.execute(
            sa.insert(LeaderboardTotal),
            [
                {
                    "workspace_id": 1 + member % 2,
                    "channel_id": channel,
                    "member_id": member,
                    "points": member % 97,
                    "answers": member % 13 + 1,
                    "last_at": now,
                    "week_start": this_week - timedelta(days=7 * (member % 3)),
                    "week_points": member % 7,
                    "week_answers": 1,
                    "week_last_at": now,
                    "month_start": date(2026, 3, 1),
                    "month_points": member % 11,
                    "month_answers": 1,
                    "month_last_at": now,
                }
                for member in range(1, 2001)
                for channel in (0, member % 5 + 1)
            ],
        )
        await connection.exec_driver_sql("ANALYZE")
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "leaderboard_total" in statement:
            statements.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    boards = LeaderboardService(sessions, clock)
    try:
        for period in Period:
            assert await boards.leaderboard(1, period)
            assert await boards.leaderboard(1, period, channel_id=2)
        with pytest.raises(KeyError):
            await boards.member_stats(99_999)
        await boards.member_stats(1)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    board_statements = [item for item in statements if "INDEXED BY" in item[0]]
    assert len(board_statements) == 7, statements  # six boards and one rank
    async with engine.connect() as connection:
        for statement, parameters in board_statements:
            plan = " | ".join(
                str(row[-1])
                for row in await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            )
            assert "SCAN leaderboard_total" not in plan, plan
            assert (
                "SEARCH leaderboard_total USING " in plan and "INDEX ix_leaderboard_total_" in plan
            ), plan
