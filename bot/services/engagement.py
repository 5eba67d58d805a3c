"""What keeps a team playing: nudges before a streak breaks, and monthly champions.

- **Nudges** (opt-in per member): a private reminder ``hours_before`` hours before an open
  question closes, to members who have not answered it and hold a streak of at least 2 in that
  channel. At most one per post and member (a UNIQUE claim row, written with the message).
- **Monthly champions**: once a month has ended in the channel's time zone (where its monthly
  board starts again), each channel that played that month gets a post with the month's top
  three and the best current streak (optionally mentioning the champion, and giving a Discord
  role), once every answer sent that month has its grade. Exactly once per channel and month:
  the claim row is UNIQUE and the post is an outbox row in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.services.cards import champions_card, nudge_card
from bot.services.daily import channel_target
from bot.services.delivery import Target, enqueue
from bot.services.leaderboard import channel_streaks
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    DailyPost,
    DeliveryAction,
    Member,
    MonthlyAward,
    Nudge,
    Platform,
    QuestionVersion,
    ScoreEvent,
    Workspace,
)

log = logging.getLogger(__name__)
MIN_STREAK_FOR_NUDGE = 2


def month_start(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date().replace(day=1)


def previous_month(first_day: date) -> date:
    return (first_day - timedelta(days=1)).replace(day=1)


def month_bounds(month: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants where a local month starts and ends."""
    zone = ZoneInfo(timezone)
    end_day = (month + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(month, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(end_day, time(0), tzinfo=zone).astimezone(UTC),
    )


class Engagement:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        nudge_hours_before: float = 2.0,
        after_commit: Callable[[], None] = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._nudge_window = timedelta(hours=nudge_hours_before)
        self._after_commit = after_commit

    async def run(self, platforms: Collection[Platform]) -> tuple[int, int]:
        nudged = await self.send_nudges(platforms)
        awarded = await self.award_months(platforms)
        if nudged or awarded:
            self._after_commit()
        return nudged, awarded

    # --- nudges ----------------------------------------------------------------------------

    async def send_nudges(self, platforms: Collection[Platform]) -> int:
        now = self._clock.now()
        async with self._sessions() as session:
            posts = (
                await session.execute(
                    sa.select(DailyPost, Channel, Workspace, QuestionVersion)
                    .join(Channel, col(Channel.id) == DailyPost.channel_id)
                    .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                    .where(
                        col(DailyPost.closed_at).is_(None),
                        col(DailyPost.closes_at) > now,
                        col(DailyPost.closes_at) <= now + self._nudge_window,
                        col(Workspace.enabled).is_(True),
                        col(Workspace.platform).in_(sorted(platforms)),
                    )
                )
            ).all()
        sent = 0
        for post, channel, workspace, question in posts:
            sent += await self._nudge_post(post, channel, workspace, question, now)
        return sent

    async def _nudge_post(
        self,
        post: DailyPost,
        channel: Channel,
        workspace: Workspace,
        question: QuestionVersion,
        now: datetime,
    ) -> int:
        assert post.id is not None and channel.id is not None
        async with transaction(self._sessions) as session:
            candidates = (
                await session.execute(
                    sa.select(Member)
                    .where(
                        col(Member.workspace_id) == workspace.id,
                        col(Member.nudges).is_(True),
                        ~sa.exists().where(
                            col(Answer.member_id) == Member.id, col(Answer.daily_post_id) == post.id
                        ),
                        ~sa.exists().where(
                            col(Nudge.member_id) == Member.id, col(Nudge.daily_post_id) == post.id
                        ),
                    )
                    .order_by(col(Member.id))
                )
            ).scalars()
            members = {member.id: member for member in candidates if member.id is not None}
            if not members:
                return 0
            streaks = await channel_streaks(session, now, channel.id, sorted(members))
            sent = 0
            for member_id, member in members.items():
                streak = streaks.get(member_id)
                if streak is None or streak.current < MIN_STREAK_FOR_NUDGE:
                    continue
                claimed = await session.execute(
                    insert_ignore(session, Nudge)
                    .values(daily_post_id=post.id, member_id=member_id, created_at=now)
                    .on_conflict_do_nothing()
                    .returning(col(Nudge.id))
                )
                if claimed.scalar_one_or_none() is None:
                    continue
                enqueue(
                    session,
                    Target(
                        platform=workspace.platform,
                        workspace_external_id=workspace.external_id,
                        channel_external_id=channel.external_id,
                        member_external_id=member.external_id,
                    ),
                    nudge_card(
                        post_id=post.id,
                        prompt=question.prompt,
                        streak=streak.current,
                        closes_at=post.closes_at,
                    ),
                    action=DeliveryAction.PRIVATE,
                    topic="nudge",
                    now=now,
                )
                sent += 1
            return sent

    # --- monthly champions -----------------------------------------------------------------

    async def award_months(self, platforms: Collection[Platform]) -> int:
        """Post last month's champions in every channel that scored points then and has no
        post yet, by the month of the channel's own zone, as its monthly board counts it (one
        query per channel time zone, so it stays cheap at every sweep)."""
        now = self._clock.now()
        async with self._sessions() as session:
            zones = (
                await session.execute(
                    sa.select(col(Channel.timezone))
                    .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                    .where(
                        col(Workspace.enabled).is_(True),
                        col(Workspace.platform).in_(sorted(platforms)),
                    )
                    .distinct()
                )
            ).scalars()
            pending: list[tuple[Channel, Workspace, date]] = []
            for zone_name in list(zones):
                month = previous_month(month_start(now, zone_name))
                start, end = month_bounds(month, zone_name)
                played = (
                    sa.select(col(ScoreEvent.channel_id))
                    .where(col(ScoreEvent.occurred_at) >= start, col(ScoreEvent.occurred_at) < end)
                    .distinct()
                )
                awarded = sa.select(col(MonthlyAward.channel_id)).where(
                    col(MonthlyAward.month) == month
                )
                # an answer sent that month still waits for its grade: its points belong to the
                # month, so its channel's post waits for them
                grading = (
                    sa.select(col(DailyPost.channel_id))
                    .join(Answer, col(Answer.daily_post_id) == DailyPost.id)
                    .where(
                        col(Answer.scored).is_(True),
                        col(Answer.status).in_([AnswerStatus.PENDING, AnswerStatus.GRADING]),
                        col(Answer.submitted_at) >= start,
                        col(Answer.submitted_at) < end,
                    )
                    .distinct()
                )
                rows = await session.execute(
                    sa.select(Channel, Workspace)
                    .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                    .where(
                        col(Channel.timezone) == zone_name,
                        col(Workspace.enabled).is_(True),
                        col(Workspace.platform).in_(sorted(platforms)),
                        col(Channel.enabled).is_(True),
                        col(Channel.announce_champions).is_(True),
                        col(Channel.id).in_(played),
                        col(Channel.id).not_in(awarded),
                        col(Channel.id).not_in(grading),
                    )
                )
                pending.extend((channel, workspace, month) for channel, workspace in rows.all())
        awarded_count = 0
        for channel, workspace, month in pending:
            if await self._award(channel, workspace, month, now):
                awarded_count += 1
        return awarded_count

    async def _award(
        self, channel: Channel, workspace: Workspace, month: date, now: datetime
    ) -> bool:
        start, end = month_bounds(month, channel.timezone)
        async with transaction(self._sessions) as session:
            total = sa.func.sum(col(ScoreEvent.points)).label("points")
            top = (
                await session.execute(
                    sa.select(
                        col(ScoreEvent.member_id),
                        col(Member.display_name),
                        col(Member.external_id),
                        total,
                    )
                    .join(Member, col(Member.id) == ScoreEvent.member_id)
                    .where(
                        col(ScoreEvent.channel_id) == channel.id,
                        col(ScoreEvent.occurred_at) >= start,
                        col(ScoreEvent.occurred_at) < end,
                    )
                    .group_by(
                        col(ScoreEvent.member_id), col(Member.display_name), col(Member.external_id)
                    )
                    .order_by(  # the leaderboards' ties: points, answers, first there, id
                        total.desc(),
                        sa.func.count(col(ScoreEvent.id)).desc(),
                        sa.func.max(col(ScoreEvent.occurred_at)).asc(),
                        col(ScoreEvent.member_id).asc(),
                    )
                    .limit(3)
                )
            ).all()
            if not top:
                return False  # nobody played that month: nothing to celebrate
            champion_id = top[0][0]
            claimed = await session.execute(
                insert_ignore(session, MonthlyAward)
                .values(
                    channel_id=channel.id,
                    month=month,
                    champion_member_id=champion_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(MonthlyAward.id))
            )
            if claimed.scalar_one_or_none() is None:
                return False  # another process posted it
            assert channel.id is not None
            streaks = await channel_streaks(session, now, channel.id)
            best_streak = None
            if streaks:
                member_id, streak = max(
                    streaks.items(), key=lambda item: (item[1].current, item[1].longest, -item[0])
                )
                if streak.current > 0:
                    name = (await session.get(Member, member_id)).display_name  # type: ignore[union-attr]
                    best_streak = (name, streak.current)
            mention = top[0][2] if channel.mention_champion or channel.champion_role_id else None
            enqueue(
                session,
                channel_target(workspace, channel),
                champions_card(
                    month_label=f"{month:%B %Y}",
                    top=[(name, int(points)) for _, name, _, points in top],
                    best_streak=best_streak,
                    champion_external_id=mention,
                    grant_role_id=channel.champion_role_id,
                ),
                action=DeliveryAction.POST,
                topic="champions",
                now=now,
            )
        log.info("posted the champions of %s in channel %s", month, channel.id)
        return True
