"""The daily question: pick the next question for a channel, open the due post exactly once,
close it after the answer window and reveal the reference answer and the results.

Exactly-once comes from the database: a post is a row UNIQUE per (channel, local date) inserted
with insert-or-nothing, and its message is an outbox row written in the same transaction; so a
restart, a misfire or a second process can never post twice. Closing claims the post
(``closed_at IS NULL``) and writes the closing edit and the reveal in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot import metrics
from bot.clock import Clock
from bot.domain.bank import Difficulty
from bot.services.cards import closed_card, question_card, reveal_card
from bot.services.channels import queue_order, schedule_of
from bot.services.delivery import QUESTION_TOPIC, Target, enqueue
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    DailyPost,
    DeliveryAction,
    GradeRecord,
    Member,
    QuestionVersion,
    QueuedQuestion,
    Workspace,
    id_column,
)
from bot.storage.queries import eligible_questions, least_used_choices

DIFFICULTY_ROTATION = [Difficulty.BEGINNER, Difficulty.INTERMEDIATE, Difficulty.ADVANCED]
TOP_N = 3


class NoEligibleQuestion(Exception):
    """The channel's track and topics match no active question."""


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


def next_difficulty(previous: Difficulty | None) -> Difficulty:
    if previous is None:
        return DIFFICULTY_ROTATION[0]
    index = DIFFICULTY_ROTATION.index(previous)
    return DIFFICULTY_ROTATION[(index + 1) % len(DIFFICULTY_ROTATION)]


def channel_target(workspace: Workspace, channel: Channel) -> Target:
    return Target(
        platform=workspace.platform,
        workspace_external_id=workspace.external_id,
        channel_external_id=channel.external_id,
    )


class DailyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        rng: random.Random,
        *,
        llm_available: bool = False,
        after_commit: Callable[[], None] = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._rng = rng
        self._llm_available = llm_available
        self._after_commit = after_commit

    async def pick_question(
        self, session: AsyncSession, channel: Channel, workspace: Workspace, day: date
    ) -> tuple[QuestionVersion, QueuedQuestion | None]:
        """A queued question for this date (or the next post), else the least-posted eligible
        question, preferring the next difficulty in the rotation; random among equals."""
        queued = (
            await session.execute(
                sa.select(QueuedQuestion, QuestionVersion)
                .join(QuestionVersion, col(QuestionVersion.id) == QueuedQuestion.question_id)
                .where(
                    col(QueuedQuestion.channel_id) == channel.id,
                    col(QueuedQuestion.used_at).is_(None),
                    sa.or_(
                        col(QueuedQuestion.for_date).is_(None),
                        col(QueuedQuestion.for_date) == day,
                    ),
                )
                .order_by(*queue_order())
                .limit(1)
            )
        ).first()
        if queued is not None:
            return queued[1], queued[0]
        posted = (
            sa.select(col(QuestionVersion.bank_id), sa.func.count().label("times"))
            .join(DailyPost, col(DailyPost.question_id) == QuestionVersion.id)
            .where(col(DailyPost.channel_id) == channel.id)
            .group_by(col(QuestionVersion.bank_id))
            .subquery()
        )
        candidates = await least_used_choices(
            session,
            eligible_questions(
                scope=workspace.scope_key,
                track=channel.track,
                topics=channel.topics,
                include_llm_only=self._llm_available,
                workspace_id=workspace.id,
            ),
            posted,
        )
        if not candidates:
            topics = ", ".join(channel.topics) or "any topic"
            track = channel.track.value if channel.track else "any track"
            raise NoEligibleQuestion(f"no active question matches {track}, {topics}")
        last_difficulty = (
            await session.execute(
                sa.select(col(QuestionVersion.difficulty))
                .join(DailyPost, col(DailyPost.question_id) == QuestionVersion.id)
                .where(col(DailyPost.channel_id) == channel.id)
                .order_by(col(DailyPost.local_date).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        wanted = next_difficulty(last_difficulty)
        start = DIFFICULTY_ROTATION.index(wanted)
        chosen: int | None = None
        for offset in range(len(DIFFICULTY_ROTATION)):
            level = DIFFICULTY_ROTATION[(start + offset) % len(DIFFICULTY_ROTATION)]
            at_level = [
                question_id for question_id, difficulty in candidates if difficulty == level
            ]
            if at_level:
                chosen = self._rng.choice(at_level)
                break
        if chosen is None:
            chosen = self._rng.choice(candidates)[0]
        question = await session.get(QuestionVersion, chosen)
        assert question is not None
        return question, None

    async def open_due(self, channel_id: int) -> OpenedPost | None:
        """Open the post of the channel's due slot (its latest slot whose window is still
        open); None when nothing is due, it is already open, or the channel is off/paused."""
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    sa.select(Channel, Workspace)
                    .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                    .where(col(Channel.id) == channel_id)
                )
            ).first()
            if row is None:
                return None
            channel, workspace = row
            if not channel.enabled or not workspace.enabled:
                return None
            schedule = schedule_of(channel)
            due = schedule.due_slot(now)
            if due is None:
                return None
            day, slot = due
            exists = await session.execute(
                sa.select(col(DailyPost.id)).where(
                    col(DailyPost.channel_id) == channel_id, col(DailyPost.local_date) == day
                )
            )
            if exists.first() is not None:
                return None
            question, queued = await self.pick_question(session, channel, workspace, day)
            closes_at = slot + schedule.answer_window
            inserted = await session.execute(
                insert_ignore(session, DailyPost)
                .values(
                    channel_id=channel_id,
                    local_date=day,
                    question_id=question.id,
                    opened_at=now,
                    closes_at=closes_at,
                )
                .on_conflict_do_nothing(index_elements=["channel_id", "local_date"])
                .returning(col(DailyPost.id))
            )
            post_id = inserted.scalar_one_or_none()
            if post_id is None:  # another process claimed it between our read and insert
                return None
            assert question.id is not None
            message = enqueue(
                session,
                channel_target(workspace, channel),
                question_card(
                    prompt=question.prompt,
                    topic=question.topic,
                    difficulty=question.difficulty.value,
                    track=question.track.value,
                    post_id=post_id,
                    closes_at=closes_at,
                ),
                action=DeliveryAction.POST,
                topic=QUESTION_TOPIC,
                now=now,
            )
            await session.flush()
            post = await session.get(DailyPost, post_id)
            assert post is not None
            post.outbox_id = message.id
            if queued is not None:
                queued.used_at, queued.daily_post_id = now, post_id
        self._after_commit()
        metrics.POSTS.inc()
        return OpenedPost(post=post, channel=channel, question=question)

    async def current_post(self, channel_id: int) -> OpenedPost | None:
        """The channel's open post, if any (the newest one not yet closed)."""
        now = self._clock.now()
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(DailyPost, Channel, QuestionVersion)
                    .join(Channel, col(Channel.id) == DailyPost.channel_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                    .where(
                        col(DailyPost.channel_id) == channel_id,
                        col(DailyPost.closed_at).is_(None),
                        col(DailyPost.closes_at) > now,
                    )
                    .order_by(col(DailyPost.local_date).desc())
                    .limit(1)
                )
            ).first()
            return OpenedPost(*row) if row else None

    async def post(self, post_id: int) -> OpenedPost | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(DailyPost, Channel, QuestionVersion)
                    .join(Channel, col(Channel.id) == DailyPost.channel_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                    .where(col(DailyPost.id) == post_id)
                )
            ).first()
            return OpenedPost(*row) if row else None

    async def close_due(self, *, platforms: set[str] | None = None) -> list[Reveal]:
        """Close every post whose window has ended: each close, its edit and its reveal are
        claimed and written in one transaction by one process only."""
        now = self._clock.now()
        async with self._sessions() as session:
            query = (
                sa.select(id_column(DailyPost.id))
                .join(Channel, col(Channel.id) == DailyPost.channel_id)
                .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                .where(
                    col(DailyPost.closed_at).is_(None),
                    col(DailyPost.closes_at) <= now,
                )
            )
            if platforms is not None:
                query = query.where(col(Workspace.platform).in_(sorted(platforms)))
            due_ids = list((await session.execute(query)).scalars())
        reveals = []
        for post_id in due_ids:
            async with transaction(self._sessions) as session:
                claimed = await session.execute(
                    sa.update(DailyPost)
                    .where(col(DailyPost.id) == post_id, col(DailyPost.closed_at).is_(None))
                    .values(closed_at=now)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                reveal = await self._reveal(session, post_id)
                await self._announce_close(session, reveal, now)
            reveals.append(reveal)
        if reveals:
            self._after_commit()
        return reveals

    async def _announce_close(self, session: AsyncSession, reveal: Reveal, now: datetime) -> None:
        workspace = await session.get(Workspace, reveal.channel.workspace_id)
        assert workspace is not None
        target = channel_target(workspace, reveal.channel)
        question = reveal.question
        parent = reveal.post.outbox_id
        if parent is not None:
            enqueue(
                session,
                target,
                closed_card(
                    prompt=question.prompt,
                    topic=question.topic,
                    difficulty=question.difficulty.value,
                    track=question.track.value,
                    answer_count=reveal.answer_count,
                ),
                action=DeliveryAction.EDIT,
                topic="closed",
                now=now,
                parent_id=parent,
            )
        enqueue(
            session,
            target,
            reveal_card(
                prompt=question.prompt,
                reference=question.reference,
                key_points=[point["text"] for point in question.key_points],
                answer_count=reveal.answer_count,
                graded_count=reveal.graded_count,
                average_score=reveal.average_score,
                top=[(entry.display_name, entry.score, entry.provisional) for entry in reveal.top],
            ),
            action=DeliveryAction.REPLY if parent is not None else DeliveryAction.POST,
            topic="reveal",
            now=now,
            parent_id=parent,
        )

    async def reveal(self, post_id: int) -> Reveal:
        async with self._sessions() as session:
            return await self._reveal(session, post_id)

    async def _reveal(self, session: AsyncSession, post_id: int) -> Reveal:
        """The reference answer and the channel's results for one post."""
        post, channel, question = (
            await session.execute(
                sa.select(DailyPost, Channel, QuestionVersion)
                .join(Channel, col(Channel.id) == DailyPost.channel_id)
                .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                .where(col(DailyPost.id) == post_id)
            )
        ).one()
        live = sa.and_(
            col(Answer.daily_post_id) == post_id,
            col(Answer.superseded).is_(False),
            col(Answer.scored).is_(True),
        )
        count, graded, average = (
            await session.execute(
                sa.select(
                    sa.func.count(col(Answer.id)),
                    sa.func.count(col(GradeRecord.id)),
                    sa.func.avg(col(GradeRecord.score)),
                )
                .select_from(Answer)
                .outerjoin(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                .where(live)
            )
        ).one()
        top_rows = await session.execute(
            sa.select(
                col(Member.display_name), col(GradeRecord.score), col(GradeRecord.provisional)
            )
            .select_from(Answer)
            .join(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
            .join(Member, col(Member.id) == Answer.member_id)
            .where(live, col(Answer.status) == AnswerStatus.GRADED)
            .order_by(col(GradeRecord.score).desc(), col(Answer.submitted_at), col(Answer.id))
            .limit(TOP_N)
        )
        top = tuple(RevealEntry(name, score, provisional) for name, score, provisional in top_rows)
        return Reveal(
            post=post,
            channel=channel,
            question=question,
            answer_count=int(count),
            graded_count=int(graded),
            average_score=float(average) if average is not None else None,
            top=top,
        )


def closes_within(post: DailyPost, now: datetime, window: timedelta) -> bool:
    return post.closed_at is None and now < post.closes_at <= now + window
