"""Answer submission: validate, store verbatim, queue for grading, return at once.

Rules (also in the README):
- Whitespace-only answers and answers over ``MAX_ANSWER_CHARS`` characters are refused with a
  clear message, and nothing is stored.
- One scored answer per member per daily question: a resubmission before the question closes
  replaces the earlier one for scoring; the earlier text is kept, marked superseded.
- An answer after the question closed is graded for practice and earns no points.
- The answer row is committed before the grading worker is woken, so a crash loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.storage.db import transaction
from bot.storage.models import Answer, AnswerStatus, DailyPost, GradeRecord, QuestionVersion

MAX_ANSWER_CHARS = 4000


class RejectionReason(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too-long"
    UNKNOWN_QUESTION = "unknown-question"


class AnswerRejected(ValueError):
    def __init__(self, reason: RejectionReason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Receipt:
    answer_id: int
    scored: bool
    replaced_earlier: bool
    late: bool

    @property
    def message(self) -> str:
        if self.late:
            return "Received. This question has closed, so it is graded for practice (no points)."
        if self.replaced_earlier:
            return "Received. This replaces your earlier answer; only this one counts. Grading now."
        return (
            "Received. Your answer is stored and being graded; the result comes to you privately."
        )


@dataclass(frozen=True)
class AnswerView:
    answer: Answer
    question: QuestionVersion
    grade: GradeRecord | None
    post_open: bool = False

    @property
    def rubric_revealed(self) -> bool:
        """Whether the member may see the whole rubric, the hints and the reference answer.

        Not while their scored daily answer's question is still open: resubmission is allowed
        until close, so showing the missing points would let anyone score full marks on a second
        try (or pass the rubric on). Practice and late answers see everything at once.
        """
        return not (self.answer.scored and self.post_open)


def validate_answer_text(text: str) -> str:
    if not text or not text.strip():
        raise AnswerRejected(RejectionReason.EMPTY, "Your answer is empty. Write a few sentences.")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerRejected(
            RejectionReason.TOO_LONG,
            f"Your answer has {len(text)} characters; the limit is {MAX_ANSWER_CHARS}. "
            "Shorten it and send it again.",
        )
    return text


class AnswerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        wake_grader: Callable[[], None] = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._wake_grader = wake_grader

    def set_wake_grader(self, wake: Callable[[], None]) -> None:
        self._wake_grader = wake

    async def submit_daily(self, member_id: int, daily_post_id: int, text: str) -> Receipt:
        """An answer to a channel's daily question."""
        text = validate_answer_text(text)
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            post = await session.get(DailyPost, daily_post_id)
            if post is None:
                raise AnswerRejected(
                    RejectionReason.UNKNOWN_QUESTION, "That question does not exist."
                )
            late = post.closed_at is not None or now >= post.closes_at
            replaced = False
            if not late:
                superseded = await session.execute(
                    sa.update(Answer)
                    .where(
                        Answer.daily_post_id == daily_post_id,
                        Answer.member_id == member_id,
                        Answer.superseded.is_(False),  # type: ignore[attr-defined]
                    )
                    .values(superseded=True, updated_at=now)
                )
                replaced = superseded.rowcount > 0  # type: ignore[attr-defined]
            answer = Answer(
                member_id=member_id,
                question_id=post.question_id,
                daily_post_id=None if late else daily_post_id,
                text=text,
                status=AnswerStatus.PENDING.value,
                scored=not late,
                submitted_at=now,
                updated_at=now,
            )
            session.add(answer)
            await session.flush()
            assert answer.id is not None
            receipt = Receipt(answer.id, scored=not late, replaced_earlier=replaced, late=late)
        self._wake_grader()
        return receipt

    async def submit_practice(self, member_id: int, question_id: int, text: str) -> Receipt:
        """A practice answer (terminal /next, mock interviews): graded, never scored."""
        text = validate_answer_text(text)
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            if await session.get(QuestionVersion, question_id) is None:
                raise AnswerRejected(
                    RejectionReason.UNKNOWN_QUESTION, "That question does not exist."
                )
            answer = Answer(
                member_id=member_id,
                question_id=question_id,
                text=text,
                status=AnswerStatus.PENDING.value,
                scored=False,
                submitted_at=now,
                updated_at=now,
            )
            session.add(answer)
            await session.flush()
            assert answer.id is not None
            receipt = Receipt(answer.id, scored=False, replaced_earlier=False, late=False)
        self._wake_grader()
        return receipt

    async def view(self, answer_id: int) -> AnswerView:
        async with self._sessions() as session:
            answer = await session.get(Answer, answer_id)
            if answer is None:
                raise KeyError(answer_id)
            question = await session.get(QuestionVersion, answer.question_id)
            assert question is not None
            grade = (
                await session.get(GradeRecord, answer.current_grade_id)
                if answer.current_grade_id
                else None
            )
            post = (
                await session.get(DailyPost, answer.daily_post_id) if answer.daily_post_id else None
            )
            post_open = (
                post is not None and post.closed_at is None and self._clock.now() < post.closes_at
            )
            return AnswerView(answer, question, grade, post_open)
