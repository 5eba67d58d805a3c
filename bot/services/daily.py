"""The daily question: pick the next question for a channel, claim the day's post exactly once,
close it after the answer window and build the reveal.

Exactly-once comes from the database: a post is a row UNIQUE per (channel, local date) inserted
with insert-or-nothing, so a restart, a misfire or a second process can never post twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.bank import Difficulty
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    QuestionVersion,
)
from bot.storage.queries import least_used_active_questions

DIFFICULTY_ROTATION = [Difficulty.BEGINNER, Difficulty.INTERMEDIATE, Difficulty.ADVANCED]
TOP_N = 3


class NoEligibleQuestion(Exception):
    """The channel's topic filter matches no active question."""


@dataclass(frozen=True)
class OpenedPost:
    post: DailyPost
    channel: Channel
    question: QuestionVersion


@dataclass(frozen=True)
class RevealEntry:
    display_name: str
    score: int
    provisional: bool


@dataclass(frozen=True)
class Reveal:
    post: DailyPost
    channel: Channel
    question: QuestionVersion
    answer_count: int
    graded_count: int
    average_score: float | None
    top: tuple[RevealEntry, ...]


def local_date_of(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def next_difficulty(previous: str | None) -> Difficulty:
    if previous is None:
        return DIFFICULTY_ROTATION[0]
    index = DIFFICULTY_ROTATION.index(Difficulty(previous))
    return DIFFICULTY_ROTATION[(index + 1) % len(DIFFICULTY_ROTATION)]


class DailyService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, rng: random.Random
    ):
        self._sessions = sessions
        self._clock = clock
        self._rng = rng

    async def pick_question(self, session: AsyncSession, channel: Channel) -> QuestionVersion:
        """The least-posted eligible question, preferring the next difficulty in the rotation.

        A question is not repeated until the channel has seen every eligible one; within the
        least-posted set, the choice is random (the injected RNG).
        """
        posted = (
            sa.select(QuestionVersion.bank_id, sa.func.count().label("times"))
            .join(DailyPost, DailyPost.question_id == QuestionVersion.id)
            .where(DailyPost.channel_id == channel.id)
            .group_by(QuestionVersion.bank_id)
            .subquery()
        )
        candidates = await least_used_active_questions(session, posted, topics=channel.topics)
        if not candidates:
            topics = ", ".join(channel.topics) or "any topic"
            raise NoEligibleQuestion(f"no active question matches the channel's topics ({topics})")
        last_difficulty = (
            await session.execute(
                sa.select(QuestionVersion.difficulty)
                .join(DailyPost, DailyPost.question_id == QuestionVersion.id)
                .where(DailyPost.channel_id == channel.id)
                .order_by(DailyPost.local_date.desc())  # type: ignore[attr-defined]
                .limit(1)
            )
        ).scalar_one_or_none()
        wanted = next_difficulty(last_difficulty)
        for offset in range(len(DIFFICULTY_ROTATION)):
            level = DIFFICULTY_ROTATION[(DIFFICULTY_ROTATION.index(wanted) + offset) % 3]
            at_level = [question for question in candidates if question.difficulty == level]
            if at_level:
                return self._rng.choice(at_level)
        return self._rng.choice(candidates)

    async def open_today(self, channel_id: int) -> OpenedPost | None:
        """Claim today's post for the channel; None if it is already claimed or the channel is off."""
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            channel = await session.get(Channel, channel_id)
            if channel is None or not channel.enabled:
                return None
            today = local_date_of(now, channel.timezone)
            exists = await session.execute(
                sa.select(DailyPost.id).where(
                    DailyPost.channel_id == channel_id, DailyPost.local_date == today
                )
            )
            if exists.first() is not None:
                return None
            question = await self.pick_question(session, channel)
            inserted = await session.execute(
                insert_ignore(session, DailyPost)
                .values(
                    channel_id=channel_id,
                    local_date=today,
                    question_id=question.id,
                    opened_at=now,
                    closes_at=now + timedelta(minutes=channel.answer_window_minutes),
                )
                .on_conflict_do_nothing(index_elements=["channel_id", "local_date"])
                .returning(DailyPost.id)
            )
            post_id = inserted.scalar_one_or_none()
            if post_id is None:
                return None
            post = await session.get(DailyPost, post_id)
            assert post is not None
            return OpenedPost(post=post, channel=channel, question=question)

    async def mark_delivered(self, post_id: int, message_ref: str | None) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(DailyPost)
                .where(DailyPost.id == post_id)
                .values(delivered_at=self._clock.now(), message_ref=message_ref)
            )

    async def undelivered_open_posts(self) -> list[OpenedPost]:
        """Claimed but never delivered (a crash between claim and send), still open: resend them."""
        now = self._clock.now()
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(DailyPost, Channel, QuestionVersion)
                .join(Channel, Channel.id == DailyPost.channel_id)
                .join(QuestionVersion, QuestionVersion.id == DailyPost.question_id)
                .where(
                    DailyPost.delivered_at.is_(None),  # type: ignore[union-attr]
                    DailyPost.closed_at.is_(None),  # type: ignore[union-attr]
                    DailyPost.closes_at > now,
                )
            )
            return [OpenedPost(post, channel, question) for post, channel, question in rows.all()]

    async def current_post(self, channel_id: int) -> OpenedPost | None:
        """The channel's open post, if any (the newest one not yet closed)."""
        now = self._clock.now()
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(DailyPost, Channel, QuestionVersion)
                    .join(Channel, Channel.id == DailyPost.channel_id)
                    .join(QuestionVersion, QuestionVersion.id == DailyPost.question_id)
                    .where(
                        DailyPost.channel_id == channel_id,
                        DailyPost.closed_at.is_(None),  # type: ignore[union-attr]
                        DailyPost.closes_at > now,
                    )
                    .order_by(DailyPost.local_date.desc())  # type: ignore[attr-defined]
                    .limit(1)
                )
            ).first()
            return OpenedPost(*row) if row else None

    async def close_due(self) -> list[Reveal]:
        """Close every post whose window has ended; each close is claimed by one process only."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = (
                await session.execute(
                    sa.select(DailyPost.id).where(
                        DailyPost.closed_at.is_(None),  # type: ignore[union-attr]
                        DailyPost.closes_at <= now,
                    )
                )
            ).scalars()
            due_ids = list(due)
        reveals = []
        for post_id in due_ids:
            async with transaction(self._sessions) as session:
                claimed = await session.execute(
                    sa.update(DailyPost)
                    .where(DailyPost.id == post_id, DailyPost.closed_at.is_(None))  # type: ignore[union-attr]
                    .values(closed_at=now)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
            reveals.append(await self.reveal(post_id))
        return reveals

    async def reveal(self, post_id: int) -> Reveal:
        """The reference answer and the channel's results for one post."""
        async with self._sessions() as session:
            post, channel, question = (
                await session.execute(
                    sa.select(DailyPost, Channel, QuestionVersion)
                    .join(Channel, Channel.id == DailyPost.channel_id)
                    .join(QuestionVersion, QuestionVersion.id == DailyPost.question_id)
                    .where(DailyPost.id == post_id)
                )
            ).one()
            live = sa.and_(
                Answer.daily_post_id == post_id,
                Answer.superseded.is_(False),  # type: ignore[attr-defined]
                Answer.scored.is_(True),  # type: ignore[attr-defined]
            )
            count, graded, average = (
                await session.execute(
                    sa.select(
                        sa.func.count(Answer.id),
                        sa.func.count(GradeRecord.id),
                        sa.func.avg(GradeRecord.score),
                    )
                    .select_from(Answer)
                    .outerjoin(GradeRecord, GradeRecord.id == Answer.current_grade_id)
                    .where(live)
                )
            ).one()
            top_rows = await session.execute(
                sa.select(Member.display_name, GradeRecord.score, GradeRecord.provisional)
                .select_from(Answer)
                .join(GradeRecord, GradeRecord.id == Answer.current_grade_id)
                .join(Member, Member.id == Answer.member_id)
                .where(live, Answer.status == AnswerStatus.GRADED.value)
                .order_by(GradeRecord.score.desc(), Answer.submitted_at, Answer.id)  # type: ignore[attr-defined]
                .limit(TOP_N)
            )
            top = tuple(
                RevealEntry(name, score, provisional) for name, score, provisional in top_rows
            )
        return Reveal(
            post=post,
            channel=channel,
            question=question,
            answer_count=int(count),
            graded_count=int(graded),
            average_score=float(average) if average is not None else None,
            top=top,
        )
