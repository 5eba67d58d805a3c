"""Leaderboards (this week, this month, all time; per workspace or per channel), the streak
board, and member stats.

Points are aggregated in SQL over ``score_event`` using its (scope, occurred_at, member)
indexes. Ties are broken deterministically: more points, then more answers, then whoever reached
the total first (earlier last scoring answer), then the lower member id. Weeks start on Monday
at 00:00 and months on the 1st, in the workspace's time zone (the channel's for a channel board).

Streaks are counted per channel over its posts (``bot.domain.streaks``); a member's stats show
the channel asked about, or their best current streak over all channels of the workspace.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.domain.streaks import NO_STREAK, Streak, compute_streak
from bot.storage.models import (
    Answer,
    AnswerKind,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    ScoreEvent,
    Workspace,
    id_column,
)


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


async def channel_streaks(
    session: AsyncSession, now: datetime, channel_id: int, member_ids: list[int] | None = None
) -> dict[int, Streak]:
    """Every member's streak in one channel (or only the given members')."""
    posts = (
        await session.execute(
            sa.select(
                col(DailyPost.id),
                col(DailyPost.local_date),
                col(DailyPost.closed_at),
                col(DailyPost.closes_at),
            )
            .where(col(DailyPost.channel_id) == channel_id)
            .order_by(col(DailyPost.local_date))
        )
    ).all()
    if not posts:
        return {}
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
    streaks = {}
    for member_id, post_ids in answered.items():
        history: list[tuple[date, bool]] = []
        for post_id, day, closed_at, closes_at in posts:
            done = post_id in post_ids
            still_open = closed_at is None and now < closes_at
            if still_open and not done:
                continue  # not missed yet
            history.append((day, done))
        streaks[member_id] = compute_streak(history)
    return streaks


class LeaderboardService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    def _ranking_query(
        self, workspace_id: int, start: datetime | None, channel_id: int | None
    ) -> sa.Select[int, str, int, int, datetime]:
        total = sa.func.sum(col(ScoreEvent.points)).label("points")
        answers = sa.func.count(col(ScoreEvent.id)).label("answers")
        last = sa.func.max(col(ScoreEvent.occurred_at)).label("last_at")
        query = (
            sa.select(col(ScoreEvent.member_id), col(Member.display_name), total, answers, last)
            .join(Member, col(Member.id) == ScoreEvent.member_id)
            .where(col(ScoreEvent.workspace_id) == workspace_id)
            .group_by(col(ScoreEvent.member_id), col(Member.display_name))
        )
        if channel_id is not None:
            query = query.where(col(ScoreEvent.channel_id) == channel_id)
        if start is not None:
            query = query.where(col(ScoreEvent.occurred_at) >= start)
        return query.order_by(
            total.desc(), answers.desc(), last.asc(), col(ScoreEvent.member_id).asc()
        )

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
            start = period_start(period, self._clock.now(), zone)
            rows = await session.execute(
                self._ranking_query(workspace_id, start, channel_id).limit(limit)
            )
            return [
                LeaderboardRow(rank, member_id, name, int(points), int(count))
                for rank, (member_id, name, points, count, _) in enumerate(rows.all(), start=1)
            ]

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
            member = await session.get(Member, member_id)
            if member is None:
                raise KeyError(member_id)
            points, daily = (
                await session.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(col(ScoreEvent.points)), 0),
                        sa.func.count(col(ScoreEvent.id)),
                    ).where(col(ScoreEvent.member_id) == member_id)
                )
            ).one()
            average = (
                await session.execute(
                    sa.select(sa.func.avg(col(GradeRecord.score)))
                    .select_from(ScoreEvent)
                    .join(Answer, col(Answer.id) == ScoreEvent.answer_id)
                    .join(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                    .where(col(ScoreEvent.member_id) == member_id)
                )
            ).scalar_one()
            practice = (
                await session.execute(
                    sa.select(sa.func.count(col(Answer.id))).where(
                        col(Answer.member_id) == member_id,
                        col(Answer.kind) != AnswerKind.DAILY,
                        col(Answer.current_grade_id).is_not(None),
                    )
                )
            ).scalar_one()
            streak, note = await self._member_streak(session, member, channel_id)
            rank = None
            if daily:
                ranking = self._ranking_query(member.workspace_id, None, None).subquery()
                better = await session.execute(
                    sa.select(sa.func.count()).select_from(ranking).where(ranking.c.points > points)
                )
                rank = int(better.scalar_one()) + 1
            return MemberStats(
                member_id=member_id,
                display_name=member.display_name,
                points=int(points),
                daily_answers=int(daily),
                average_score=float(average) if average is not None else None,
                practice_answers=int(practice),
                streak=streak,
                rank=rank,
                streak_note=note,
            )

    async def _member_streak(
        self, session: AsyncSession, member: Member, channel_id: int | None
    ) -> tuple[Streak, str]:
        assert member.id is not None
        if channel_id is not None:
            streaks = await channel_streaks(session, self._clock.now(), channel_id, [member.id])
            return streaks.get(member.id, NO_STREAK), ""
        channels = (
            await session.execute(
                sa.select(id_column(Channel.id), col(Channel.name))
                .join(DailyPost, col(DailyPost.channel_id) == Channel.id)
                .join(Answer, col(Answer.daily_post_id) == DailyPost.id)
                .where(col(Answer.member_id) == member.id, col(Answer.scored).is_(True))
                .distinct()
            )
        ).all()
        best, best_name = NO_STREAK, ""
        for channel, name in channels:
            streak = (await channel_streaks(session, self._clock.now(), channel, [member.id])).get(
                member.id, NO_STREAK
            )
            if (streak.current, streak.longest) > (best.current, best.longest):
                best, best_name = streak, name
        note = f"Streak in #{best_name}" if len(channels) > 1 and best_name else ""
        return best, note
