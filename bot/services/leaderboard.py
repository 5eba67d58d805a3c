"""Leaderboards (this week, this month, all time; per workspace or per channel), the streak
board, and member stats.

Boards and ranks are read from the per-member totals in ``leaderboard_total``
(``bot.storage.rollups``), each in the order of its own index, so a board reads its top rows and
a rank counts the rows ahead of the member; neither aggregates ``score_event``. On SQLite the
queries name their index (``INDEXED BY``), so statistics from ANALYZE cannot turn them into
scans. Ties are broken deterministically: more points, then more answers, then whoever reached
the total first (earlier last scoring answer), then the lower member id; a member's rank is their
place on the all-time workspace board. Weeks start on Monday at 00:00 and months on the 1st, in
the workspace's time zone (the channel's for a channel board).

Streaks are counted per channel over its posts (``bot.domain.streaks``); a member's stats show
the channel asked about, or their best current streak over all channels of the workspace. Member
stats read the member's rollup row (points, answers, the score sum behind the average), count
graded practice and read the streak history from indexes alone (``member_streaks``): three
statements, none of which grows with the workspace's history.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.domain.streaks import MAX_FREEZES, NO_STREAK, Streak, compute_streak
from bot.storage.models import (
    Answer,
    AnswerKind,
    Channel,
    DailyPost,
    LeaderboardTotal,
    Member,
    UTCDateTime,
    Workspace,
    id_column,
)
from bot.storage.rollups import WORKSPACE_SCOPE, month_key, week_key


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    ALL = "all"

    @property
    def label(self) -> str:
        return {"week": "This week", "month": "This month", "all": "All time"}[self.value]


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    member_id: int
    display_name: str
    points: int
    answers: int


@dataclass(frozen=True)
class StreakRow:
    rank: int
    member_id: int
    display_name: str
    streak: Streak


@dataclass(frozen=True)
class MemberStats:
    member_id: int
    display_name: str
    points: int
    daily_answers: int
    average_score: float | None
    practice_answers: int
    streak: Streak
    rank: int | None
    streak_note: str = ""


@dataclass(frozen=True)
class _Standing:
    """What ranks a member on the all-time workspace board (their ``leaderboard_total`` row's
    columns)."""

    workspace_id: int
    member_id: int
    points: int
    answers: int
    last_at: datetime


def _stats_query() -> sa.Select[Any]:
    """The member, their all-time workspace row and their graded practice answers, in one
    statement (parameter ``member``), from plain tables; ``_stats_statement`` keeps it."""
    members = Member.__table__.c  # type: ignore[attr-defined]
    answers = Answer.__table__.c  # type: ignore[attr-defined]
    totals = LeaderboardTotal.__table__  # type: ignore[attr-defined]
    member = sa.bindparam("member", type_=sa.Integer)
    practice = (
        sa.select(sa.func.count())
        .where(
            answers.member_id == member,
            answers.kind != AnswerKind.DAILY,
            answers.current_grade_id.is_not(None),
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            members.workspace_id,
            members.display_name,
            totals.c.points,
            totals.c.answers,
            totals.c.score_sum,
            totals.c.last_at,
            practice,
        )
        .select_from(Member.__table__)  # type: ignore[attr-defined]
        .outerjoin(
            totals,
            sa.and_(
                totals.c.workspace_id == members.workspace_id,
                totals.c.channel_id == WORKSPACE_SCOPE,
                totals.c.member_id == members.id,
            ),
        )
        .where(members.id == member)
    )


@functools.cache
def _stats_statement() -> sa.Select[Any]:
    """``_stats_query()``, built on the first call and then kept (building it takes about 0.2 ms,
    a cached call well under a microsecond). Built on first use rather than at import so that
    the statement is made by the code running at the time: under mutation testing a statement
    built at import never carries a mutant of ``_stats_query``. The test suite clears this
    cache before each test (``tests/conftest.py``) so every test that reads member stats
    builds and runs the statement itself."""
    return _stats_query()


def period_start(period: Period, now: datetime, timezone: str) -> datetime | None:
    """The UTC instant the period began, in the given zone; None for all time."""
    if period is Period.ALL:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date()
    if period is Period.WEEK:
        day -= timedelta(days=local.weekday())
    else:
        day = day.replace(day=1)
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


#: A board's columns (points, answers, last answer) and its index, per period.
_BOARD_COLUMNS = {
    Period.ALL: ("points", "answers", "last_at", "ix_leaderboard_total_all"),
    Period.WEEK: ("week_points", "week_answers", "week_last_at", "ix_leaderboard_total_week"),
    Period.MONTH: ("month_points", "month_answers", "month_last_at", "ix_leaderboard_total_month"),
}


def _indexed_by(session: AsyncSession, index: str) -> str:
    """SQLite's INDEXED BY: the query uses that index or fails, whatever ANALYZE found."""
    bind = session.bind
    return f"INDEXED BY {index}" if bind is not None and bind.dialect.name == "sqlite" else ""


async def channel_streaks(
    session: AsyncSession, now: datetime, channel_id: int, member_ids: list[int] | None = None
) -> dict[int, Streak]:
    """Every member's streak in one channel (or only the given members')."""
    rows = (
        await session.execute(
            sa.select(
                id_column(DailyPost.id),
                col(DailyPost.local_date),
                col(DailyPost.closed_at),
                col(DailyPost.closes_at),
            )
            .where(col(DailyPost.channel_id) == channel_id)
            .order_by(col(DailyPost.local_date))
        )
    ).all()
    if not rows:
        return {}
    posts = [
        (post_id, day, closed is None and now < closes) for post_id, day, closed, closes in rows
    ]
    query = (
        sa.select(col(Answer.member_id), col(Answer.daily_post_id))
        .join(DailyPost, col(DailyPost.id) == Answer.daily_post_id)
        .where(col(DailyPost.channel_id) == channel_id, col(Answer.scored).is_(True))
    )
    if member_ids is not None:
        query = query.where(col(Answer.member_id).in_(member_ids))
    answered: dict[int, set[int | None]] = defaultdict(set)
    for member_id, post_id in (await session.execute(query.distinct())).all():
        answered[member_id].add(post_id)
    return {member_id: _streak(posts, post_ids) for member_id, post_ids in answered.items()}


async def member_streaks(
    session: AsyncSession, now: datetime, member_id: int, channel_id: int | None = None
) -> dict[int, Streak]:
    """One member's streak in each channel they answered in (or in that one channel), without
    reading the channels' whole histories.

    A streak depends only on the member's answered posts and, after each of them, the posts they
    missed before their next answer; and of those misses only the first ``MAX_FREEZES + 1``
    matter (past them the streak is 0 and stays 0 until the next answer). So one query reads the
    member's answered posts (``ix_answer_member_history``) and, for each, the first few later
    posts of its channel that are not still open (``ix_daily_post_history``, which holds the
    close times too); the history those make gives ``compute_streak`` what the full history
    would."""
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "sqlite"
    params: dict[str, Any] = {"member": member_id, "now": now, "channel": channel_id}
    rows = (await session.execute(_streak_query(dialect, channel_id is not None), params)).all()
    by_channel: dict[int, list[tuple[date, list[date]]]] = defaultdict(list)
    if dialect == "sqlite":  # a row per answered post, with its next posts' dates as text
        for channel, answered_day, *later_days in rows:
            by_channel[channel].append(
                (_as_date(answered_day), [_as_date(day) for day in later_days if day])
            )
    else:  # a row per (answered post, next post); a resubmission repeats its post's rows
        found: dict[tuple[int, date], set[date]] = defaultdict(set)
        for channel, answered_day, later_day in rows:
            days = found[(channel, answered_day)]
            if later_day is not None:
                days.add(later_day)
        for (channel, answered_day), days in found.items():
            by_channel[channel].append((answered_day, sorted(days)))
    return {channel: _walk(channel_rows) for channel, channel_rows in by_channel.items()}


@functools.cache
def _streak_query(dialect: str, one_channel: bool) -> sa.Select[Any]:
    """``member_streaks``' statement (parameters ``member``, ``now``, ``channel``), built once:
    plain tables, so each call only binds values."""
    answers = Answer.__table__  # type: ignore[attr-defined]
    posts = DailyPost.__table__  # type: ignore[attr-defined]
    post, later = posts.alias("answered_post"), posts.alias("later_post")
    not_open = sa.or_(later.c.closed_at.is_not(None), later.c.closes_at <= sa.bindparam("now"))
    after = sa.and_(
        later.c.channel_id == post.c.channel_id, later.c.local_date > post.c.local_date, not_open
    )
    query: sa.Select[Any]
    if dialect == "sqlite":
        # SQLite keeps dates as ISO text: read them as text and parse them at C speed rather
        # than through SQLAlchemy's per-value conversion (hundreds of dates per member); no
        # LATERAL there, so one scalar subquery per later post
        def as_text(column: Any) -> Any:
            return sa.type_coerce(column, sa.String)

        answered = sa.select(answers.c.daily_post_id).where(
            answers.c.member_id == sa.bindparam("member"),
            answers.c.scored.is_(True),
            answers.c.daily_post_id.is_not(None),
        )
        following = [
            sa.select(as_text(later.c.local_date))
            .where(after)
            .order_by(later.c.local_date)
            .limit(1)
            .offset(skip)
            .correlate(post)
            .scalar_subquery()
            for skip in range(MAX_FREEZES + 1)
        ]
        query = sa.select(post.c.channel_id, as_text(post.c.local_date), *following).where(
            post.c.id.in_(answered)
        )
    else:
        # PostgreSQL: each answered post's next posts in one index scan (LATERAL), reached
        # from the member's answers through the post's primary key
        nexts = (
            sa.select(later.c.local_date.label("day"))
            .where(after)
            .order_by(later.c.local_date)
            .limit(MAX_FREEZES + 1)
            .lateral("following")
        )
        query = (
            sa.select(post.c.channel_id, post.c.local_date, nexts.c.day)
            .select_from(answers)
            .join(post, post.c.id == answers.c.daily_post_id)
            .outerjoin(nexts, sa.true())
            .where(answers.c.member_id == sa.bindparam("member"), answers.c.scored.is_(True))
        )
    if one_channel:
        query = query.where(post.c.channel_id == sa.bindparam("channel"))
    return query


def _walk(rows: list[tuple[date, list[date]]]) -> Streak:
    """The streak of a channel's answered posts (date, the first later posts not still open):
    each answer, then the misses before the next answer."""
    rows.sort()
    history: list[tuple[date, bool]] = []
    for index, (day, after) in enumerate(rows):
        history.append((day, True))
        next_answer = rows[index + 1][0] if index + 1 < len(rows) else None
        history += [
            (missed, False) for missed in after if next_answer is None or missed < next_answer
        ]
    return compute_streak(history)


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _streak(posts: list[tuple[int, date, bool]], answered: set[int | None]) -> Streak:
    """A member's streak over a channel's posts (id, local date, still open), oldest first."""
    history: list[tuple[date, bool]] = []
    for post_id, day, still_open in posts:
        done = post_id in answered
        if still_open and not done:
            continue  # not missed yet
        history.append((day, done))
    return compute_streak(history)


class LeaderboardService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def _zone(self, session: AsyncSession, workspace_id: int, channel_id: int | None) -> str:
        workspace = await session.get(Workspace, workspace_id)
        zone = workspace.timezone if workspace else "UTC"
        if channel_id is not None:
            channel = await session.get(Channel, channel_id)
            zone = channel.timezone if channel else zone
        return zone

    async def leaderboard(
        self, workspace_id: int, period: Period, *, channel_id: int | None = None, limit: int = 10
    ) -> list[LeaderboardRow]:
        async with self._sessions() as session:
            zone = await self._zone(session, workspace_id, channel_id)
            points, answers, last, index = _BOARD_COLUMNS[period]
            where = "workspace_id = :workspace AND channel_id = :channel"
            params: dict[str, object] = {
                "workspace": workspace_id,
                "channel": channel_id or WORKSPACE_SCOPE,
                "limit": limit,
            }
            bound = []
            if period is not Period.ALL:
                key = week_key if period is Period.WEEK else month_key
                where += f" AND {period.value}_start = :start"
                params["start"] = key(self._clock.now(), zone)
                bound.append(sa.bindparam("start", type_=sa.Date))
            # the top rows in the index's order first, then their names
            query = sa.text(
                "SELECT top.member_id, member.display_name, top.points, top.answers FROM "
                f"(SELECT member_id, {points} AS points, {answers} AS answers, {last} AS last_at "
                f"FROM leaderboard_total {_indexed_by(session, index)} WHERE {where} "
                f"ORDER BY {points} DESC, {answers} DESC, {last}, member_id LIMIT :limit) AS top "
                "JOIN member ON member.id = top.member_id "
                "ORDER BY top.points DESC, top.answers DESC, top.last_at, top.member_id"
            ).bindparams(*bound)
            rows = await session.execute(query, params)
            return [
                LeaderboardRow(rank, member_id, name, int(points), int(count))
                for rank, (member_id, name, points, count) in enumerate(rows.all(), start=1)
            ]

    async def _members_ahead(self, session: AsyncSession, total: _Standing) -> int:
        """How many members rank above this all-time workspace row: a count of index ranges,
        one per tie-break, never the whole ranking."""
        rows = f"leaderboard_total {_indexed_by(session, _BOARD_COLUMNS[Period.ALL][3])}"
        scope = "workspace_id = :workspace AND channel_id = :channel"
        same_points = "points = :points AND answers"
        ahead = (
            "points > :points",
            f"{same_points} > :answers",
            f"{same_points} = :answers AND last_at < :last_at",
            f"{same_points} = :answers AND last_at = :last_at AND member_id < :member",
        )
        query = sa.text(
            "SELECT "
            + " + ".join(
                f"(SELECT count(*) FROM {rows} WHERE {scope} AND {rule})" for rule in ahead
            )
        ).bindparams(sa.bindparam("last_at", type_=UTCDateTime))
        params = {
            "workspace": total.workspace_id,
            "channel": WORKSPACE_SCOPE,
            "points": total.points,
            "answers": total.answers,
            "last_at": total.last_at,
            "member": total.member_id,
        }
        return int((await session.execute(query, params)).scalar_one())

    async def streak_board(self, channel_id: int, *, limit: int = 10) -> list[StreakRow]:
        """Members of a channel by current streak (then longest, then member id)."""
        async with self._sessions() as session:
            streaks = await channel_streaks(session, self._clock.now(), channel_id)
            names = dict(
                (
                    await session.execute(
                        sa.select(col(Member.id), col(Member.display_name)).where(
                            col(Member.id).in_(sorted(streaks))
                        )
                    )
                ).all()
            )
        ranked = sorted(
            ((member_id, streak) for member_id, streak in streaks.items() if streak.current > 0),
            key=lambda item: (-item[1].current, -item[1].longest, item[0]),
        )[:limit]
        return [
            StreakRow(rank, member_id, names.get(member_id, ""), streak)
            for rank, (member_id, streak) in enumerate(ranked, start=1)
        ]

    async def member_stats(self, member_id: int, *, channel_id: int | None = None) -> MemberStats:
        async with self._sessions() as session:
            found = (await session.execute(_stats_statement(), {"member": member_id})).first()
            if found is None:
                raise KeyError(member_id)
            workspace_id, name, points, daily, score_sum, last_at, practice = found
            points, daily = (points or 0, daily or 0)
            # the score sum of the member's events, kept by the rollups with their count
            average = score_sum / daily if daily else None
            streak, note = await self._member_streak(session, member_id, channel_id)
            rank = None
            if daily:
                total = _Standing(workspace_id, member_id, points, daily, last_at)
                rank = await self._members_ahead(session, total) + 1
            return MemberStats(
                member_id=member_id,
                display_name=name,
                points=int(points),
                daily_answers=int(daily),
                average_score=float(average) if average is not None else None,
                practice_answers=int(practice),
                streak=streak,
                rank=rank,
                streak_note=note,
            )

    async def _member_streak(
        self, session: AsyncSession, member_id: int, channel_id: int | None
    ) -> tuple[Streak, str]:
        streaks = await member_streaks(session, self._clock.now(), member_id, channel_id)
        if channel_id is not None:
            return streaks.get(channel_id, NO_STREAK), ""
        if not streaks:
            return NO_STREAK, ""
        best_channel, best = min(
            streaks.items(), key=lambda item: (-item[1].current, -item[1].longest, item[0])
        )
        if len(streaks) == 1 or (best.current, best.longest) == (0, 0):
            return best, ""
        name = await session.scalar(
            sa.select(col(Channel.name)).where(id_column(Channel.id) == best_channel)
        )
        return best, f"Streak in #{name}" if name else ""
