"""Leaderboards (this week, this month, all time; per workspace or per channel) and member stats.

Everything is aggregated in SQL over ``score_event`` using its (scope, occurred_at, member)
indexes. Ties are broken deterministically: more points, then more answers, then whoever reached
the total first (earlier last scoring answer), then the lower member id.
Weeks start on Monday at 00:00 and months on the 1st, in the workspace's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.streaks import Streak, compute_streak
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    GradeRecord,
    Member,
    ScoreEvent,
    Workspace,
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
class MemberStats:
    member_id: int
    display_name: str
    points: int
    daily_answers: int
    answers_graded: int
    average_score: float | None
    streak: Streak
    rank: int | None


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


class LeaderboardService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    def _ranking_query(
        self, workspace_id: int, start: datetime | None, channel_id: int | None
    ) -> sa.Select:
        total = sa.func.sum(ScoreEvent.points).label("points")
        answers = sa.func.count(ScoreEvent.id).label("answers")
        last = sa.func.max(ScoreEvent.occurred_at).label("last_at")
        query = (
            sa.select(ScoreEvent.member_id, Member.display_name, total, answers, last)
            .join(Member, Member.id == ScoreEvent.member_id)
            .where(ScoreEvent.workspace_id == workspace_id)
            .group_by(ScoreEvent.member_id, Member.display_name)
        )
        if channel_id is not None:
            query = query.where(ScoreEvent.channel_id == channel_id)
        if start is not None:
            query = query.where(ScoreEvent.occurred_at >= start)
        return query.order_by(total.desc(), answers.desc(), last.asc(), ScoreEvent.member_id.asc())

    async def leaderboard(
        self, workspace_id: int, period: Period, *, channel_id: int | None = None, limit: int = 10
    ) -> list[LeaderboardRow]:
        async with self._sessions() as session:
            workspace = await session.get(Workspace, workspace_id)
            zone = workspace.timezone if workspace else "UTC"
            if channel_id is not None:
                channel = await session.get(Channel, channel_id)
                zone = channel.timezone if channel else zone
            start = period_start(period, self._clock.now(), zone)
            rows = await session.execute(
                self._ranking_query(workspace_id, start, channel_id).limit(limit)
            )
            return [
                LeaderboardRow(rank, member_id, name, int(points), int(count))
                for rank, (member_id, name, points, count, _) in enumerate(rows.all(), start=1)
            ]

    async def member_stats(self, member_id: int) -> MemberStats:
        async with self._sessions() as session:
            member = await session.get(Member, member_id)
            if member is None:
                raise KeyError(member_id)
            workspace = await session.get(Workspace, member.workspace_id)
            zone = member.timezone or (workspace.timezone if workspace else "UTC")
            points, daily = (
                await session.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(ScoreEvent.points), 0),
                        sa.func.count(ScoreEvent.id),
                    ).where(ScoreEvent.member_id == member_id)
                )
            ).one()
            graded, average = (
                await session.execute(
                    sa.select(sa.func.count(GradeRecord.id), sa.func.avg(GradeRecord.score))
                    .select_from(Answer)
                    .join(GradeRecord, GradeRecord.id == Answer.current_grade_id)
                    .where(
                        Answer.member_id == member_id, Answer.status == AnswerStatus.GRADED.value
                    )
                )
            ).one()
            days = (
                await session.execute(
                    sa.select(ScoreEvent.member_local_date)
                    .where(ScoreEvent.member_id == member_id)
                    .distinct()
                    .order_by(ScoreEvent.member_local_date.desc())  # type: ignore[attr-defined]
                    .limit(3660)
                )
            ).scalars()
            streak = compute_streak(list(days), self._clock.now().astimezone(ZoneInfo(zone)).date())
            ranking = self._ranking_query(member.workspace_id, None, None).subquery()
            better = await session.execute(
                sa.select(sa.func.count()).select_from(ranking).where(ranking.c.points > points)
            )
            rank = int(better.scalar_one()) + 1 if daily else None
            return MemberStats(
                member_id=member_id,
                display_name=member.display_name,
                points=int(points),
                daily_answers=int(daily),
                answers_graded=int(graded),
                average_score=float(average) if average is not None else None,
                streak=streak,
                rank=rank,
            )
