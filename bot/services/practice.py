"""Practice questions outside the daily schedule (``practice``, the terminal's ``/next``, mock
interviews): the member's due review questions first (spaced repetition), then the questions
they answered least, preferring the topics where they score lowest.

Both preferences are strong, not absolute: one draw in four (``EXPLORE_SHARE``) ignores them,
so a member with many reviews due or a weak topic still meets the rest of the bank instead of
looping on one topic. ``review`` asks for due questions only."""

from __future__ import annotations

import random
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.domain.bank import Difficulty, Track
from bot.services.review import SpacedRepetition
from bot.storage.models import Answer, QuestionVersion
from bot.storage.queries import eligible_questions, least_used

#: How many of a member's weakest topics practice prefers.
WEAK_TOPICS = 3
#: The share of draws that skip the due reviews and the weak-topic preference.
EXPLORE_SHARE = 0.25


class PracticeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rng: random.Random,
        *,
        llm_available: bool = False,
        review: SpacedRepetition | None = None,
    ):
        self._sessions = sessions
        self._rng = rng
        self._llm_available = llm_available
        self._review = review

    async def next_question(
        self,
        member_id: int,
        *,
        scope: str = "",
        track: Track | None = None,
        topics: Sequence[str] = (),
        difficulty: Difficulty | None = None,
        exclude_bank_ids: Sequence[str] = (),
        use_review: bool = True,
        workspace_id: int | None = None,
        due_only: bool = False,
    ) -> QuestionVersion | None:
        """A due review question, else one this member has answered least often (never,
        ideally), from their weakest topics when they have weak ones, chosen at random; one
        draw in four explores instead. ``due_only``: the most overdue question, if any."""
        answered = (
            sa.select(col(QuestionVersion.bank_id), sa.func.count(col(Answer.id)).label("times"))
            .join(Answer, col(Answer.question_id) == QuestionVersion.id)
            .where(col(Answer.member_id) == member_id)
            .group_by(col(QuestionVersion.bank_id))
            .subquery()
        )
        condition = self.eligible(
            scope=scope,
            track=track,
            topics=topics,
            difficulty=difficulty,
            exclude_bank_ids=exclude_bank_ids,
            workspace_id=workspace_id,
        )
        if use_review and self._review is not None:
            due = await self._review.due_questions(member_id, condition, limit=1)
            if due and (due_only or self._rng.random() >= EXPLORE_SHARE):
                return due[0]
        async with self._sessions() as session:
            candidates = await least_used(session, condition, answered)
        if not candidates:
            return None
        if use_review and self._review is not None and not topics:
            weak = (await self._review.weakest_topics(member_id))[:WEAK_TOPICS]
            preferred = [question for question in candidates if question.topic in weak]
            if preferred and self._rng.random() >= EXPLORE_SHARE:
                return self._rng.choice(preferred)
        return self._rng.choice(candidates)

    def eligible(
        self,
        *,
        scope: str = "",
        track: Track | None = None,
        topics: Sequence[str] = (),
        difficulty: Difficulty | None = None,
        exclude_bank_ids: Sequence[str] = (),
        workspace_id: int | None = None,
    ) -> sa.ColumnElement[bool]:
        """The questions this service may draw for a member of the workspace (``scope``)."""
        return eligible_questions(
            scope=scope,
            track=track,
            topics=topics,
            difficulty=difficulty,
            include_llm_only=self._llm_available,
            exclude_bank_ids=exclude_bank_ids,
            workspace_id=workspace_id,
        )

    async def catalogue(self, scope: str = "") -> dict[Track, set[str]]:
        """The topics of every track a member of this workspace can practise."""
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(col(QuestionVersion.track), col(QuestionVersion.topic))
                .where(eligible_questions(scope=scope, include_llm_only=self._llm_available))
                .distinct()
            )
            catalogue: dict[Track, set[str]] = {}
            for track, topic in rows.all():
                catalogue.setdefault(track, set()).add(topic)
            return catalogue
