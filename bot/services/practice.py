"""Practice questions outside the daily schedule (terminal /next, later mock interviews)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import Answer, QuestionVersion


class PracticeService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rng: random.Random):
        self._sessions = sessions
        self._rng = rng

    async def next_question(
        self, member_id: int, *, topics: Sequence[str] = (), exclude_bank_ids: Sequence[str] = ()
    ) -> QuestionVersion | None:
        """A question this member has answered least often (never, ideally), chosen at random."""
        answered = (
            sa.select(QuestionVersion.bank_id, sa.func.count(Answer.id).label("times"))
            .join(Answer, Answer.question_id == QuestionVersion.id)
            .where(Answer.member_id == member_id)
            .group_by(QuestionVersion.bank_id)
            .subquery()
        )
        query = (
            sa.select(QuestionVersion, sa.func.coalesce(answered.c.times, 0))
            .outerjoin(answered, answered.c.bank_id == QuestionVersion.bank_id)
            .where(QuestionVersion.active.is_(True))  # type: ignore[attr-defined]
            .order_by(QuestionVersion.bank_id)
        )
        if topics:
            query = query.where(QuestionVersion.topic.in_(list(topics)))  # type: ignore[attr-defined]
        if exclude_bank_ids:
            query = query.where(QuestionVersion.bank_id.not_in(list(exclude_bank_ids)))  # type: ignore[attr-defined]
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return None
        fewest = min(times for _, times in rows)
        return self._rng.choice([question for question, times in rows if times == fewest])
