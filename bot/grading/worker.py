"""The grading worker: claims pending answers, grades them in the background, stores the grade
and the points, and announces the result.

Guarantees:
- Claims are leases: a worker that dies mid-grading leaves its answers claimable again after
  ``lease``; on boot the worker takes back everything pending or stale.
- A claim carries a token; only the holder of the current token can store the grade, so a slow
  worker whose lease expired cannot write a second grade.
- Points live in ``score_event``, UNIQUE per answer and per (daily post, member): an answer never
  earns points twice and a resubmission replaces, never adds.
- Transient grader errors are retried with exponential backoff and jitter; after the last attempt
  the fallback (offline) grader grades the answer and the grade is marked provisional.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.bank import KeyPoint
from bot.domain.points import points_for
from bot.grading.base import Grade, Grader, GradingError, GradingItem, TransientGradingError
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    QuestionVersion,
    ScoreEvent,
    Workspace,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class GradedAnswer:
    """What the worker announces after storing a grade."""

    answer_id: int
    member_id: int
    daily_post_id: int | None
    grade: Grade
    points: int | None


def grading_item(question: QuestionVersion) -> GradingItem:
    return GradingItem(
        prompt=question.prompt,
        reference=question.reference,
        key_points=tuple(KeyPoint(**point) for point in question.key_points),
        question_id=question.bank_id,
        version=question.content_hash,
    )


def grade_record(answer_id: int, grade: Grade, clock: Clock) -> GradeRecord:
    return GradeRecord(
        answer_id=answer_id,
        grader=grade.grader,
        model=grade.model,
        score=grade.score,
        verdicts=[
            {**asdict(verdict), "status": verdict.status.value} for verdict in grade.verdicts
        ],
        factual_errors=[asdict(error) for error in grade.factual_errors],
        flags=list(grade.flags),
        feedback=grade.feedback,
        provisional=grade.provisional,
        prompt_tokens=grade.prompt_tokens,
        completion_tokens=grade.completion_tokens,
        created_at=clock.now(),
    )


class GradingWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        grader: Grader,
        fallback: Grader,
        clock: Clock,
        *,
        concurrency: int = 4,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        lease: timedelta = timedelta(minutes=5),
        poll_seconds: float = 30.0,
        batch_size: int = 32,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        on_graded: Callable[[GradedAnswer], Awaitable[None]] | None = None,
    ):
        self._sessions = sessions
        self._grader = grader
        self._fallback = fallback
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._lease = lease
        self._poll = poll_seconds
        self._batch = batch_size
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._listeners: list[Callable[[GradedAnswer], Awaitable[None]]] = []
        if on_graded is not None:
            self._listeners.append(on_graded)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.worker_id = uuid.uuid4().hex[:12]

    @property
    def grader_name(self) -> str:
        return self._grader.name

    def add_listener(self, listener: Callable[[GradedAnswer], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Start the background loop; it first takes back whatever a crash left pending."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="grading-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("grading loop failed; retrying after the poll interval")
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def run_once(self) -> int:
        """Claim a batch of gradable answers and grade them concurrently; return how many."""
        claims = await self._claim_batch()
        tasks = [
            asyncio.create_task(self._grade_claimed(answer_id, token))
            for answer_id, token in claims
        ]
        self._in_flight.update(tasks)
        try:
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            self._in_flight.difference_update(tasks)
        return len(claims)

    async def drain(self) -> int:
        """Grade until nothing is claimable (tests, the terminal, batch jobs)."""
        total = 0
        while claimed := await self.run_once():
            total += claimed
        return total

    def _claimable(self) -> sa.ColumnElement[bool]:
        stale = self._clock.now() - self._lease
        return sa.or_(
            Answer.status == AnswerStatus.PENDING.value,
            sa.and_(Answer.status == AnswerStatus.GRADING.value, Answer.claimed_at < stale),
        )

    async def _claim_batch(self) -> list[tuple[int, str]]:
        async with self._sessions() as session:
            candidates = (
                await session.execute(
                    sa.select(Answer.id)
                    .where(self._claimable())
                    .order_by(Answer.id)
                    .limit(self._batch)
                )
            ).scalars()
            ids = list(candidates)
        claims = []
        for answer_id in ids:
            token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
            async with transaction(self._sessions) as session:
                result = await session.execute(
                    sa.update(Answer)
                    .where(Answer.id == answer_id, self._claimable())
                    .values(
                        status=AnswerStatus.GRADING.value,
                        claim_token=token,
                        claimed_at=self._clock.now(),
                        attempts=Answer.attempts + 1,
                        updated_at=self._clock.now(),
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claims.append((answer_id, token))
        return claims

    async def _grade_claimed(self, answer_id: int, token: str) -> None:
        async with self._semaphore:
            async with self._sessions() as session:
                answer = await session.get(Answer, answer_id)
                assert answer is not None
                question = await session.get(QuestionVersion, answer.question_id)
                assert question is not None
                item, text = grading_item(question), answer.text
            try:
                grade = await self._grade_with_retries(item, text)
            except Exception as exc:  # the fallback failed too: keep the answer, mark it failed
                log.exception("answer %s could not be graded", answer_id)
                await self._mark_failed(answer_id, token, exc)
                return
            graded = await self._store(answer_id, token, question, grade)
        if graded is not None:
            for listener in self._listeners:
                try:
                    await listener(graded)
                except Exception:
                    log.exception(
                        "result delivery failed for answer %s (the grade is stored)", answer_id
                    )

    async def _grade_with_retries(self, item: GradingItem, text: str) -> Grade:
        last_error: Exception | None = None
        for attempt in range(self._max_attempts):
            try:
                return await self._grader.grade(item, text)
            except TransientGradingError as exc:
                last_error = exc
                if attempt + 1 < self._max_attempts:
                    delay = min(self._max_backoff, self._backoff * 2**attempt)
                    await self._sleep(delay * (0.5 + self._rng.random()))
            except GradingError as exc:
                last_error = exc
                break
        # the error's class only: messages from a judge can quote the answer, which stays out of logs
        log.warning(
            "grader %s failed (%s); using the fallback grader",
            self._grader.name,
            type(last_error).__name__,
        )
        grade = await self._fallback.grade(item, text)
        return dataclasses.replace(grade, provisional=True)

    async def _store(
        self, answer_id: int, token: str, question: QuestionVersion, grade: Grade
    ) -> GradedAnswer | None:
        async with transaction(self._sessions) as session:
            record = grade_record(answer_id, grade, self._clock)
            session.add(record)
            await session.flush()
            owned = await session.execute(
                sa.update(Answer)
                .where(Answer.id == answer_id, Answer.claim_token == token)
                .values(
                    status=AnswerStatus.GRADED.value,
                    current_grade_id=record.id,
                    claim_token=None,
                    last_error=None,
                    updated_at=self._clock.now(),
                )
            )
            if owned.rowcount != 1:  # type: ignore[attr-defined]
                # our lease expired and another worker took the answer: it owns the result
                await session.rollback()
                log.info(
                    "answer %s was re-claimed by another worker; dropping this grade", answer_id
                )
                return None
            answer = await session.get(Answer, answer_id)
            assert answer is not None
            await session.refresh(answer)
            points = await self._award(session, answer, question, grade)
            return GradedAnswer(answer_id, answer.member_id, answer.daily_post_id, grade, points)

    async def _award(
        self, session: AsyncSession, answer: Answer, question: QuestionVersion, grade: Grade
    ) -> int | None:
        if not answer.scored or answer.superseded or answer.daily_post_id is None:
            return None
        post = await session.get(DailyPost, answer.daily_post_id)
        member = await session.get(Member, answer.member_id)
        assert post is not None and member is not None
        channel = await session.get(Channel, post.channel_id)
        workspace = await session.get(Workspace, member.workspace_id)
        assert channel is not None and workspace is not None
        zone = ZoneInfo(member.timezone or channel.timezone or workspace.timezone)
        points = points_for(grade.score, question.difficulty)
        values = {
            "workspace_id": workspace.id,
            "channel_id": channel.id,
            "member_id": member.id,
            "answer_id": answer.id,
            "daily_post_id": post.id,
            "points": points,
            "member_local_date": answer.submitted_at.astimezone(zone).date(),
            "occurred_at": answer.submitted_at,
        }
        statement = insert_ignore(session, ScoreEvent).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["daily_post_id", "member_id"],
            set_={
                key: statement.excluded[key]
                for key in ("answer_id", "points", "member_local_date", "occurred_at")
            },
        )
        await session.execute(statement)
        return points

    async def _mark_failed(self, answer_id: int, token: str, exc: Exception) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(Answer)
                .where(Answer.id == answer_id, Answer.claim_token == token)
                .values(
                    status=AnswerStatus.FAILED.value,
                    claim_token=None,
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                    updated_at=self._clock.now(),
                )
            )

    async def requeue(
        self, answer_ids: Sequence[int] | None = None, *, provisional_only: bool = True
    ) -> int:
        """Put answers back in the queue: failed ones, and those whose grade is provisional."""
        async with transaction(self._sessions) as session:
            condition = Answer.status == AnswerStatus.FAILED.value
            if provisional_only:
                provisional_ids = sa.select(GradeRecord.id).where(GradeRecord.provisional.is_(True))  # type: ignore[attr-defined]
                condition = sa.or_(condition, Answer.current_grade_id.in_(provisional_ids))  # type: ignore[union-attr]
            statement = (
                sa.update(Answer)
                .where(condition)
                .values(
                    status=AnswerStatus.PENDING.value,
                    claim_token=None,
                    updated_at=self._clock.now(),
                )
            )
            if answer_ids is not None:
                statement = statement.where(Answer.id.in_(answer_ids))  # type: ignore[union-attr]
            result = await session.execute(statement)
        self.wake()
        return int(result.rowcount)  # type: ignore[attr-defined]
