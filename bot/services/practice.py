"""Practice questions outside the daily schedule (``practice``, the terminal's ``/next``)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.bank import Difficulty, Track
from bot.storage.models import Answer, QuestionVersion
from bot.storage.queries import eligible_questions, least_used


class PracticeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rng: random.Random,
        *,
        llm_available: bool = False,
    ):
        self._sessions = sessions
        self._rng = rng
        self._llm_available = llm_available

    async def next_question(
        self,
        member_id: int,
        *,
        scope: str = "",
        track: Track | None = None,
        topics: Sequence[str] = (),
        difficulty: Difficulty | None = None,
        exclude_bank_ids: Sequence[str] = (),
    ) -> QuestionVersion | None:
        """A question this member has answered least often (never, ideally), chosen at random."""
        answered = (
            sa.select(QuestionVersion.bank_id, sa.func.count(Answer.id).label("times"))
            .join(Answer, Answer.question_id == QuestionVersion.id)
            .where(Answer.member_id == member_id)
            .group_by(QuestionVersion.bank_id)
            .subquery()
        )
        condition = eligible_questions(
            scope=scope,
            track=track,
            topics=topics,
            difficulty=difficulty,
            include_llm_only=self._llm_available,
            exclude_bank_ids=exclude_bank_ids,
        )
        async with self._sessions() as session:
            candidates = await least_used(session, condition, answered)
        return self._rng.choice(candidates) if candidates else None

    async def catalogue(self, scope: str = "") -> dict[Track, set[str]]:
        """The topics of every track a member of this workspace can practise."""
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(QuestionVersion.track, QuestionVersion.topic)
                .where(eligible_questions(scope=scope, include_llm_only=self._llm_available))
                .distinct()
            )
            catalogue: dict[Track, set[str]] = {}
            for track, topic in rows.all():
                catalogue.setdefault(track, set()).add(topic)
            return catalogue
