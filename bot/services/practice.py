"""Practice questions outside the daily schedule (terminal /next, later mock interviews)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import Answer, QuestionVersion
from bot.storage.queries import least_used_active_questions


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
        async with self._sessions() as session:
            candidates = await least_used_active_questions(
                session, answered, topics=topics, exclude_bank_ids=exclude_bank_ids
            )
        return self._rng.choice(candidates) if candidates else None
