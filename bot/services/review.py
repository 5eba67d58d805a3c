"""Spaced repetition from the grades: one fsrs card per member and question.

Every graded answer of a member who has not opted out reviews that question's card, with the
grade mapped to an fsrs rating (``RATINGS``: below 40 Again, below 65 Hard, below 85 Good, else
Easy). Practice and mock interviews then draw the member's due questions first, and otherwise
prefer the topics where the member scores lowest. The shared daily question of a channel is not
affected (its pick is the channel's, not a member's).

Learning steps are a day, not minutes: these are interview questions, not flashcards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from fsrs import Card, Rating, Scheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import Answer, GradeRecord, Member, QuestionVersion, ReviewCard

#: (upper bound of the score, exclusive) -> rating; documented in the README.
RATINGS: tuple[tuple[int, Rating], ...] = (
    (40, Rating.Again),
    (65, Rating.Hard),
    (85, Rating.Good),
    (101, Rating.Easy),
)


#: A topic where the member's mean score is below this is weak (the Hard/Good boundary).
WEAK_TOPIC_SCORE = 65


def rating_for(score: int) -> Rating:
    for bound, rating in RATINGS:
        if score < bound:
            return rating
    return Rating.Easy


def _scheduler() -> Scheduler:
    return Scheduler(
        learning_steps=(timedelta(days=1),),
        relearning_steps=(timedelta(days=1),),
        enable_fuzzing=False,
    )


@dataclass(frozen=True)
class ReviewState:
    due: int
    enabled: bool


async def record_review(
    session: AsyncSession, member: Member, bank_id: str, score: int, now: datetime
) -> None:
    """Review the member's card for this question with the grade (in the caller's transaction)."""
    if not member.spaced_repetition or member.id is None:
        return
    rating = rating_for(score)
    # The common case, a question the member has not been graded on: the reviewed card is
    # inserted at once. Two grades of one member and question can be stored at once (a
    # resubmission graded beside the answer it replaced): the insert that loses the race does
    # nothing, and the review then locks the winner's row and reviews on top of its state.
    # fsrs would stamp a new card with the wall clock and sleep a millisecond to keep the stamps
    # unique; the stamp is only an id here, so it comes from the bot's clock, without the sleep
    fresh = Card(card_id=int(now.timestamp() * 1000), due=now)
    first, _ = _scheduler().review_card(fresh, rating, now)
    inserted = await session.execute(
        insert_ignore(session, ReviewCard)
        .values(
            member_id=member.id,
            bank_id=bank_id,
            card=dict(first.to_dict()),
            due=first.due,
            last_score=score,
            reviews=1,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["member_id", "bank_id"])
        .returning(col(ReviewCard.id))
    )
    if inserted.scalar_one_or_none() is not None:
        return
    row = (
        await session.execute(
            sa.select(ReviewCard)
            .where(col(ReviewCard.member_id) == member.id, col(ReviewCard.bank_id) == bank_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    card = Card.from_dict(row.card)  # type: ignore[arg-type]
    card, _ = _scheduler().review_card(card, rating, now)
    row.card = dict(card.to_dict())
    row.due = card.due
    row.last_score = score
    row.reviews += 1
    row.updated_at = now
    session.add(row)


class SpacedRepetition:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def state(
        self, member_id: int, condition: sa.ColumnElement[bool] | None = None
    ) -> ReviewState:
        """How many of the member's cards are due; with ``condition``, only those whose question
        matches it (the questions practice may draw: not one an admin took out of rotation)."""
        async with self._sessions() as session:
            member = await session.get(Member, member_id)
            due = await self._count_due(session, member_id, condition)
        return ReviewState(due=due, enabled=bool(member and member.spaced_repetition))

    async def _count_due(
        self,
        session: AsyncSession,
        member_id: int,
        condition: sa.ColumnElement[bool] | None = None,
    ) -> int:
        statement = sa.select(sa.func.count(sa.distinct(col(ReviewCard.id)))).where(
            col(ReviewCard.member_id) == member_id,
            col(ReviewCard.due) <= self._clock.now(),
        )
        if condition is not None:
            statement = statement.join(
                QuestionVersion, col(QuestionVersion.bank_id) == ReviewCard.bank_id
            ).where(condition)
        return int((await session.execute(statement)).scalar_one())

    async def set_enabled(self, member_id: int, enabled: bool) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(Member)
                .where(col(Member.id) == member_id)
                .values(spaced_repetition=enabled)
            )

    async def due_questions(
        self, member_id: int, condition: sa.ColumnElement[bool], limit: int = 20
    ) -> list[QuestionVersion]:
        """The member's due questions matching ``condition``, the most overdue first."""
        async with self._sessions() as session:
            member = await session.get(Member, member_id)
            if member is None or not member.spaced_repetition:
                return []
            rows = await session.execute(
                sa.select(QuestionVersion)
                .join(ReviewCard, col(ReviewCard.bank_id) == QuestionVersion.bank_id)
                .where(
                    col(ReviewCard.member_id) == member_id,
                    col(ReviewCard.due) <= self._clock.now(),
                    condition,
                )
                .order_by(col(ReviewCard.due), col(QuestionVersion.bank_id))
                .limit(limit)
            )
            return list(rows.scalars())

    async def weakest_topics(self, member_id: int, below: float = WEAK_TOPIC_SCORE) -> list[str]:
        """Topics where the member's mean score is below ``below``, the weakest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(
                    col(QuestionVersion.topic), sa.func.avg(col(GradeRecord.score)).label("mean")
                )
                .select_from(Answer)
                .join(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
                .where(col(Answer.member_id) == member_id)
                .group_by(col(QuestionVersion.topic))
                .order_by(sa.text("mean"), col(QuestionVersion.topic))
            )
            return [topic for topic, mean in rows.all() if float(mean) < below]
