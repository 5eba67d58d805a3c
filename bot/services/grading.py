"""The grading worker: claims pending answers, grades them in the background, and stores the
grade, the points and the member's private result card in one transaction.

Guarantees:
- Claims take only as many answers as there are free grading slots, with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several processes share the queue and a claim
  never waits behind an LLM outage. A claim is a lease, renewed while the grade runs; a worker
  that dies mid-grading leaves its answers claimable again once the lease expires.
- A claim carries a token; only the holder of the current token can store the grade, so a slow
  worker whose lease was taken cannot write a second grade.
- An answer claimed ``max_claims`` times without a stored grade (a crash loop) is set aside as
  failed (the dead letter, listed by ``grades failed``) and the member is told.
- Transient grader errors are retried with exponential backoff and jitter (tenacity); after the
  last attempt the fallback (offline) grader grades the answer and the grade is provisional. An
  LLM-only question waits (``retry_at``) instead, since the fallback cannot grade it fairly.
- Points are awarded by ``bot.services.scoring`` inside the grade's transaction.
- Grades that finish together share one transaction (a group commit; a batch that fails is
  stored grade by grade), and while the worker runs that transaction also claims the answers
  that take the freed slots: in steady state an answer costs one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
)

from bot import metrics
from bot.clock import Clock
from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage
from bot.grading.base import (
    Grade,
    Grader,
    GradingError,
    GradingItem,
    LLMRequiredError,
    RequestLimited,
    TransientGradingError,
)
from bot.grading.cache import grade_to_dict
from bot.grading.followup import FollowUpWriter
from bot.services.cards import Card, grade_card, grading_failed_card
from bot.services.costs import CostGuard, LlmUse
from bot.services.delivery import Target, enqueue
from bot.services.interviews import MockInterviews, MockPlan
from bot.services.review import record_review
from bot.services.scoring import award_points
from bot.storage.db import transaction
from bot.storage.models import (
    Answer,
    AnswerKind,
    AnswerStatus,
    Channel,
    DailyPost,
    DeliveryAction,
    Dispute,
    DisputeStatus,
    GradeRecord,
    Member,
    OutboxMessage,
    Platform,
    QuestionVersion,
    Workspace,
    id_column,
)

log = logging.getLogger(__name__)

#: At most this many grades share one transaction.
STORE_BATCH = 16
#: How soon an answer whose grade could not be stored (a database error) is claimed again.
STORE_RETRY = timedelta(seconds=5)

Sleep = Callable[[float], Awaitable[None]]
#: A grade made offline because the member or workspace went over its LLM limits.
FLAG_LLM_LIMIT = "llm-limit"


def grading_item(question: QuestionVersion) -> GradingItem:
    return GradingItem(
        prompt=question.prompt,
        reference=question.reference,
        key_points=tuple(KeyPoint(**point) for point in question.key_points),
        question_id=question.bank_id,
        version=question.content_hash,
        llm_only=question.llm_only,
    )


def record_from_grade(
    answer: Answer, question: QuestionVersion, grade: Grade, created_at: datetime
) -> GradeRecord:
    """The stored form of a grade of ``answer`` (to ``question``, its version); the grader's
    details stay out of the database."""
    assert answer.id is not None
    data = grade_to_dict(grade)
    return GradeRecord(
        answer_id=answer.id,
        grader=data["grader"],
        model=data["model"],
        score=data["score"],
        factual_errors=data["factual_errors"],
        flags=data["flags"],
        provisional=data["provisional"],
        prompt_tokens=data["prompt_tokens"],
        completion_tokens=data["completion_tokens"],
        created_at=created_at,
    ).with_content(data["verdicts"], data["feedback"], answer, question)


@dataclass
class _StoreRequest:
    """A finished grade waiting for the next group commit, and where its outcome goes."""

    job: _Job
    grade: Grade
    plan: MockPlan | None
    follow_up: str | None
    result: asyncio.Future[bool]


@dataclass(frozen=True)
class _Job:
    """A claimed answer with everything needed to grade it and deliver the result."""

    answer: Answer
    question: QuestionVersion
    member: Member
    workspace: Workspace
    post: DailyPost | None
    channel: Channel | None
    #: The answer's dispute, read with the claim: a dispute needs a graded answer, so none can
    #: appear while this one is being graded.
    dispute_id: int | None
    dispute_status: DisputeStatus | None
    dispute_reason: str | None
    token: str

    @property
    def regrading(self) -> bool:
        """Graded again because its member disputed the grade (the reason goes to the grader)."""
        return self.dispute_status is DisputeStatus.REGRADING


class GradingWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        grader: Grader,
        fallback: Grader,
        clock: Clock,
        *,
        concurrency: int = 4,
        prefetch: int = 0,
        max_attempts: int = 4,
        max_claims: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        lease: timedelta = timedelta(minutes=5),
        poll_seconds: float = 5.0,
        llm_wait: timedelta = timedelta(minutes=10),
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        after_commit: Callable[[], None] = lambda: None,
        interviews: MockInterviews | None = None,
        follow_ups: FollowUpWriter | None = None,
        costs: CostGuard | None = None,
    ):
        self._sessions = sessions
        self._grader = grader
        self._fallback = fallback
        self._clock = clock
        self._concurrency = concurrency
        #: ``concurrency`` bounds the grader calls in flight, not the answers held: up to
        #: ``prefetch`` more are claimed (and leased) ahead, so a grader slot freed when the
        #: judge replies starts the next answer at once, while the last grade is checked and
        #: stored beside it (the store no longer sits between one LLM call and the next).
        self._max_jobs = concurrency + max(0, prefetch)
        self._grader_slots = asyncio.Semaphore(concurrency)
        # A grader that bounds its own remote calls (the LLM grader) takes a slot only for each
        # request: its screening and cache look-up run before, its checks after, outside it.
        self._slot_around_grade: Any = self._grader_slots
        if isinstance(grader, RequestLimited):
            grader.request_slots = self._grader_slots
            self._slot_around_grade = contextlib.nullcontext()
        self._max_attempts = max_attempts
        self._max_claims = max_claims
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._lease = lease
        self._poll = poll_seconds
        self._llm_wait = llm_wait
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._after_commit = after_commit
        self.interviews = interviews
        self._follow_ups = follow_ups
        self._costs = costs
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: True while the background loop or ``drain`` runs: a transaction that stores grades
        #: then also claims the answers that take the freed slots (``run_once`` never refills)
        self._refilling = False
        #: answers claimed by this worker so far (``drain`` reports its share)
        self.claimed = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._in_flight: dict[asyncio.Task[None], _Job] = {}
        #: the claim statements, built once per limit (see ``_claim_statements``)
        self._claim_cache: dict[int, tuple[Any, Any]] = {}
        self._store_queue: list[_StoreRequest] = []
        self._storer: asyncio.Task[None] | None = None
        self.worker_id = uuid.uuid4().hex[:12]
        self.stored = 0

    @property
    def grader_name(self) -> str:
        return self._grader.name

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Start the background loop; it first takes back whatever a crash left pending."""
        if self._task is None:
            self._stopping = False
            self._refilling = True
            self._task = asyncio.create_task(self._loop(), name="grading-worker")
            self._heartbeat = asyncio.create_task(self._renew_leases(), name="grading-leases")

    async def stop(self) -> None:
        """Stop claiming, abandon the grades in progress (their leases expire and another
        worker, or this one after a restart, grades them), and stop."""
        self._stopping = True
        self._refilling = False
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 1.0)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        self._task = self._heartbeat = None
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._in_flight.clear()
        if self._storer is not None:
            self._storer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._storer
            self._storer = None

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("grading loop failed; retrying after the poll interval")
                claimed = 0
            if self._in_flight:
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait(
                        {*self._in_flight, waker},
                        timeout=self._poll,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    waker.cancel()
            elif not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def _fill(self) -> int:
        """Claim as many answers as there are free slots and start grading them."""
        free = self._max_jobs - len(self._in_flight)
        if free <= 0:
            return 0
        jobs = await self._claim(free)
        self._start(jobs)
        return len(jobs)

    def _start(self, jobs: Sequence[_Job]) -> None:
        for job in jobs:
            task = asyncio.create_task(self._grade_job(job))
            self._in_flight[task] = job
            task.add_done_callback(self._in_flight.pop)
        self.claimed += len(jobs)

    async def run_once(self) -> int:
        """Claim up to the free slots and grade them; return how many were claimed."""
        claimed = await self._fill()
        if self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
        return claimed

    async def drain(self) -> int:
        """Grade until nothing is claimable and nothing is in flight (tests, the terminal, batch
        jobs); return how many were claimed. Like the background loop, a slot is refilled as
        soon as its grade is stored, so grading and storing overlap."""
        before = self.claimed
        self._refilling = True
        try:
            while True:
                claimed = await self._fill()
                if not self._in_flight:
                    if not claimed:
                        return self.claimed - before
                    continue
                await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._refilling = self._task is not None and not self._stopping

    async def _renew_leases(self) -> None:
        interval = max(1.0, self._lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            tokens = sorted({job.token for job in self._in_flight.values()})
            if not tokens:
                continue
            try:
                async with transaction(self._sessions) as session:
                    await session.execute(
                        sa.update(Answer)
                        .where(
                            col(Answer.claim_token).in_(tokens),
                            col(Answer.status) == AnswerStatus.GRADING,
                        )
                        .values(claimed_at=self._clock.now())
                    )
            except Exception:
                log.warning("could not renew grading leases; they may expire", exc_info=True)

    def _claim_statements(self, limit: int) -> tuple[Any, Any]:
        """The claim's UPDATE (up to ``limit`` due answers) and the SELECT of what grading them
        needs, built once per limit with bound parameters (``now``, ``stale``, ``token``,
        ``ids``): building and keying SQLAlchemy statements per claim cost more than running
        them."""
        statements = self._claim_cache.get(limit)
        if statements is not None:
            return statements
        now: sa.BindParameter[datetime] = sa.bindparam("now")
        stale: sa.BindParameter[datetime] = sa.bindparam("stale")
        claimable = sa.or_(
            sa.and_(
                col(Answer.status) == AnswerStatus.PENDING,
                sa.or_(col(Answer.retry_at).is_(None), col(Answer.retry_at) <= now),
            ),
            sa.and_(col(Answer.status) == AnswerStatus.GRADING, col(Answer.claimed_at) < stale),
        )
        due = (
            sa.select(col(Answer.id))
            .where(claimable)
            .order_by(col(Answer.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claim = (
            sa.update(Answer)
            .where(col(Answer.id).in_(due))
            .values(
                status=AnswerStatus.GRADING,
                claim_token=sa.bindparam("token"),
                claimed_at=now,
                attempts=col(Answer.attempts) + 1,
                updated_at=now,
            )
            .returning(id_column(Answer.id))
        )
        post_channel = aliased(Channel)
        load = (
            sa.select(
                Answer,
                QuestionVersion,
                Member,
                Workspace,
                DailyPost,
                post_channel,
                col(Dispute.id),
                col(Dispute.status),
                col(Dispute.reason),
            )
            .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
            .join(Member, col(Member.id) == Answer.member_id)
            .join(Workspace, col(Workspace.id) == Member.workspace_id)
            .outerjoin(DailyPost, col(DailyPost.id) == Answer.daily_post_id)
            .outerjoin(post_channel, col(post_channel.id) == DailyPost.channel_id)
            .outerjoin(Dispute, col(Dispute.answer_id) == Answer.id)
            .where(col(Answer.id).in_(sa.bindparam("ids", expanding=True)))
            .order_by(col(Answer.id))
        )
        self._claim_cache[limit] = claim, load
        return claim, load

    async def _claim(self, limit: int) -> list[_Job]:
        async with transaction(self._sessions) as session:
            jobs = await self._claim_in(session, limit)
        return await self._admit(jobs)

    async def _admit(self, jobs: Sequence[_Job]) -> list[_Job]:
        """The claimed jobs to grade; an answer claimed too often is set aside (dead letter)."""
        fresh = []
        for job in jobs:
            if job.answer.attempts > self._max_claims:
                await self._give_up(job, "claimed too many times without a stored grade")
            else:
                fresh.append(job)
        return fresh

    async def _claim_in(self, session: AsyncSession, limit: int) -> list[_Job]:
        """Claim up to ``limit`` answers in the caller's transaction."""
        now = self._clock.now()
        token = f"{self.worker_id}:{uuid.uuid4().hex[:12]}"
        claim, load = self._claim_statements(limit)
        claimed = await session.execute(
            claim, {"now": now, "stale": now - self._lease, "token": token}
        )
        ids = sorted(claimed.scalars())
        if not ids:
            return []
        jobs = []
        for row in (await session.execute(load, {"ids": ids})).all():
            answer, question, member, workspace, post, channel, dispute_id, status, reason = row
            jobs.append(
                _Job(
                    answer=answer,
                    question=question,
                    member=member,
                    workspace=workspace,
                    post=post,
                    channel=channel,
                    dispute_id=dispute_id,
                    dispute_status=status,
                    dispute_reason=reason,
                    token=token,
                )
            )
        return jobs

    async def _grade_job(self, job: _Job) -> None:
        item = grading_item(job.question)
        answer_id = job.answer.id
        if job.regrading and job.dispute_reason:
            item = dataclasses.replace(item, dispute_reason=job.dispute_reason)
        limited = ""
        if self._costs is not None and self._grader is not self._fallback:
            decision = await self._costs.decide(job.answer, job.member, job.workspace)
            if decision.use is LlmUse.OFFLINE:
                if item.llm_only:  # the offline grader cannot grade it fairly: wait for room
                    await self._release(job, self._llm_wait, "llm-limit")
                    return
                limited = decision.reason
        try:
            if limited:
                grade = await self._fallback.grade(item, job.answer.text)
                grade = dataclasses.replace(
                    grade, provisional=True, flags=(*grade.flags, FLAG_LLM_LIMIT)
                )
            else:
                grade = await self._grade_with_retries(item, job.answer.text)
        except LLMRequiredError as exc:
            if self._grader is self._fallback:  # no LLM configured at all
                await self._give_up(job, str(exc))
            else:  # the LLM is down; the fallback cannot grade this question fairly: wait
                await self._release(job, self._llm_wait, type(exc).__name__)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the fallback failed too
            log.warning("answer %s could not be graded (%s)", answer_id, type(exc).__name__)
            await self._give_up(job, f"{type(exc).__name__}")
            return
        if self._costs is not None and job.workspace.id is not None:
            self._costs.spend(job.workspace.id, grade.prompt_tokens + grade.completion_tokens)
        plan, follow_up = await self._plan_mock(job, item, grade)
        try:
            stored = await self._store(job, grade, plan, follow_up)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database error: this grade is lost, the answer is not
            log.warning(
                "storing the grade of answer %s failed (%s); it is graded again shortly",
                answer_id,
                type(exc).__name__,
            )
            with contextlib.suppress(Exception):
                await self._release(job, STORE_RETRY, f"store failed: {type(exc).__name__}")
            return
        if stored:
            self.stored += 1
            metrics.ANSWERS_GRADED.labels(grade.grader, str(grade.provisional).lower()).inc()
            metrics.GRADING_SECONDS.observe(
                max(0.0, (self._clock.now() - job.answer.submitted_at).total_seconds())
            )
            if grade.prompt_tokens or grade.completion_tokens:
                metrics.LLM_TOKENS.labels("prompt").inc(grade.prompt_tokens)
                metrics.LLM_TOKENS.labels("completion").inc(grade.completion_tokens)
            self._after_commit()

    async def _plan_mock(
        self, job: _Job, item: GradingItem, grade: Grade
    ) -> tuple[MockPlan | None, str | None]:
        """For a mock-interview answer: what comes next, and the follow-up question if any."""
        if job.answer.kind is not AnswerKind.MOCK or self.interviews is None:
            return None, None
        missed = [
            point
            for point, verdict in zip(item.key_points, grade.verdicts, strict=False)
            if verdict.status is not Coverage.COVERED
        ]
        plan = await self.interviews.plan_after_grade(job.answer, grade.score, missed)
        if plan is None or not plan.follow_up_points:
            return plan, None
        if self._follow_ups is not None and not grade.provisional:
            try:
                return plan, await self._follow_ups.write(
                    item, job.answer.text, plan.follow_up_points
                )
            except GradingError as exc:
                log.info("no follow-up for answer %s (%s)", job.answer.id, type(exc).__name__)
        return await self.interviews.without_follow_up(plan, job.answer, grade.score), None

    async def _grade_with_retries(self, item: GradingItem, text: str) -> Grade:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._backoff_wait,
            retry=retry_if_exception_type(TransientGradingError),
            sleep=self._sleep,
            reraise=False,
        )
        last_error: Exception | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    # a slot is not held while backing off between attempts
                    async with self._slot_around_grade:
                        return await self._grader.grade(item, text)
        except RetryError as exc:
            last_error = exc.last_attempt.exception()  # type: ignore[assignment]
            metrics.LLM_ERRORS.labels(type(last_error).__name__).inc()
        except LLMRequiredError:
            raise
        except GradingError as exc:
            last_error = exc
            metrics.LLM_ERRORS.labels(type(exc).__name__).inc()
        # the error's class only: messages from a judge can quote the answer, which stays out of logs
        log.warning(
            "grader %s failed (%s); using the fallback grader",
            self._grader.name,
            type(last_error).__name__,
        )
        async with self._grader_slots:
            grade = await self._fallback.grade(item, text)
        return dataclasses.replace(grade, provisional=True)

    def _backoff_wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter from the injected RNG (tests control it); never
        shorter than a Retry-After the service sent, within ``max_backoff_seconds``."""
        step = min(self._max_backoff, self._backoff * 2 ** (state.attempt_number - 1))
        wait = step * (0.5 + self._rng.random())
        error = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            wait = max(wait, min(float(asked), self._max_backoff))
        return wait

    async def _store(
        self, job: _Job, grade: Grade, plan: MockPlan | None = None, follow_up: str | None = None
    ) -> bool:
        """Store the grade with the grades that finished beside it, in one transaction (a group
        commit: one BEGIN/COMMIT, one fsync on SQLite, for all of them); True when stored,
        False when another worker owns the answer now. If the shared transaction fails, each
        grade is stored in a transaction of its own, so one bad grade fails only itself."""
        request = _StoreRequest(
            job, grade, plan, follow_up, asyncio.get_running_loop().create_future()
        )
        self._store_queue.append(request)
        if self._storer is None or self._storer.done():
            self._storer = asyncio.create_task(self._store_loop(), name="grading-store")
        return await request.result

    async def _store_loop(self) -> None:
        while self._store_queue:
            batch = self._store_queue[:STORE_BATCH]
            del self._store_queue[:STORE_BATCH]
            try:
                await self._store_batch(batch)
            except asyncio.CancelledError:
                for request in batch + self._store_queue:
                    if not request.result.done():
                        request.result.cancel()
                raise

    async def _store_batch(self, batch: list[_StoreRequest], *, refill: bool = True) -> None:
        """Store the batch in one transaction; while the worker runs (its loop, or ``drain``),
        the same transaction claims the answers that take the slots these grades free, so an
        answer costs one transaction, not two."""
        try:
            async with transaction(self._sessions) as session:
                stored = [await self._store_in(session, request) for request in batch]
                free = self._max_jobs - len(self._in_flight) + len(batch)
                claimed: list[_Job] = []
                if refill and self._refilling and not self._stopping and free > 0:
                    claimed = await self._claim_in(session, free)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].result.done():  # its grading task may have been cancelled
                    batch[0].result.set_exception(exc)
                return
            log.info(
                "a batch of %s grades failed (%s); storing one by one",
                len(batch),
                type(exc).__name__,
            )
            for request in batch:
                await self._store_batch([request], refill=False)
            return
        # the new grades start before the stored ones' tasks finish, so the loop finds their
        # slots taken and claims nothing more
        self._start(await self._admit(claimed))
        for request, outcome in zip(batch, stored, strict=True):
            if not request.result.done():
                request.result.set_result(outcome)

    async def _store_in(self, session: AsyncSession, request: _StoreRequest) -> bool:
        job, grade, plan, follow_up = request.job, request.grade, request.plan, request.follow_up
        now = self._clock.now()
        answer = job.answer
        assert answer.id is not None
        record = record_from_grade(answer, job.question, grade, now)
        session.add(record)
        await session.flush()
        owned = await session.execute(
            sa.update(Answer)
            .where(col(Answer.id) == answer.id, col(Answer.claim_token) == job.token)
            .values(
                status=AnswerStatus.GRADED,
                current_grade_id=record.id,
                claim_token=None,
                retry_at=None,
                last_error=None,
                updated_at=now,
            )
            .returning(col(Answer.superseded))
        )
        superseded = owned.scalar_one_or_none()
        if superseded is None:
            # our lease expired and another worker took the answer: it owns the result, and
            # the grade just written goes (the transaction is shared with other grades)
            await session.delete(record)
            await session.flush()
            log.info("answer %s was re-claimed by another worker; dropping this grade", answer.id)
            return False
        answer.superseded = superseded
        points = await award_points(
            session,
            answer=answer,
            score=grade.score,
            question=job.question,
            member=job.member,
            workspace=job.workspace,
            post=job.post,
            channel=job.channel,
        )
        post_open = job.post is not None and job.post.closed_at is None and now < job.post.closes_at
        if job.regrading:
            await session.execute(
                sa.update(Dispute)
                .where(
                    col(Dispute.id) == job.dispute_id,
                    col(Dispute.status) == DisputeStatus.REGRADING,
                )
                .values(status=DisputeStatus.REGRADED, regraded_score=grade.score, updated_at=now)
            )
        if not job.question.scope.startswith("followup:"):
            await record_review(session, job.member, job.question.bank_id, grade.score, now)
        card = grade_card(
            score=grade.score,
            verdicts=grade.verdicts,
            feedback=grade.feedback,
            reference=job.question.reference,
            provisional=grade.provisional,
            points=points,
            flags=grade.flags,
            # a single-player terminal has nobody to pass the rubric to: all of it at once
            rubric_revealed=job.workspace.platform is Platform.CONSOLE
            or not (answer.scored and post_open),
            prompt=job.question.prompt if answer.kind is AnswerKind.PRACTICE else "",
            answer_id=answer.id,
            unscored_label={
                AnswerKind.MOCK: "mock interview: no points",
                AnswerKind.DAILY: "after the close: no points",
            }.get(answer.kind, "practice: no points"),
            dispute_id=job.dispute_id if job.regrading else None,
            disputable=job.dispute_id is None,
        )
        result = self._enqueue_result(session, job, card, now)
        if plan is not None and self.interviews is not None:
            extras = await self.interviews.apply_after_grade(
                session, plan, grade.score, follow_up, now
            )
            if extras:
                await session.flush()  # the grade's row id: what follows waits for it
            for extra in extras:
                # the next question (or the report) leaves only after the grade was sent,
                # whichever dispatcher or replica claims them
                result = self._enqueue_result(
                    session, job, extra, now, topic="mock", after=result.id
                )
        return True

    def _enqueue_result(
        self,
        session: AsyncSession,
        job: _Job,
        card: Card,
        now: datetime,
        topic: str = "grade",
        after: int | None = None,
    ) -> OutboxMessage:
        """The member's private card; ``after``: an outbox row that must be sent first (a
        private message has no thread, so its parent is only an ordering constraint)."""
        context = dict(job.answer.reply_context or {})
        channel = context.get("channel") or (job.channel.external_id if job.channel else None)
        return enqueue(
            session,
            Target(
                platform=job.workspace.platform,
                workspace_external_id=job.workspace.external_id,
                channel_external_id=channel,
                member_external_id=job.member.external_id,
                reply_context=context,
            ),
            card,
            action=DeliveryAction.PRIVATE,
            topic=topic,
            now=now,
            parent_id=after,
        )

    async def _release(self, job: _Job, wait: timedelta, error: str) -> None:
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(Answer)
                .where(col(Answer.id) == job.answer.id, col(Answer.claim_token) == job.token)
                .values(
                    status=AnswerStatus.PENDING,
                    claim_token=None,
                    retry_at=now + wait,
                    last_error=error,
                    updated_at=now,
                )
            )

    async def _give_up(self, job: _Job, reason: str) -> None:
        """The dead letter: the answer stays stored, marked failed; the member is told."""
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            updated = await session.execute(
                sa.update(Answer)
                .where(col(Answer.id) == job.answer.id, col(Answer.claim_token) == job.token)
                .values(
                    status=AnswerStatus.FAILED,
                    claim_token=None,
                    last_error=reason[:500],
                    updated_at=now,
                )
            )
            if updated.rowcount == 1:  # type: ignore[attr-defined]
                self._enqueue_result(session, job, grading_failed_card(reason), now)
                metrics.GRADING_FAILED.inc()
        self._after_commit()

    async def requeue(
        self, answer_ids: Sequence[int] | None = None, *, provisional_only: bool = True
    ) -> int:
        """Put answers back in the queue: failed ones, and those whose grade is provisional."""
        async with transaction(self._sessions) as session:
            condition: sa.ColumnElement[bool] = col(Answer.status) == AnswerStatus.FAILED
            if provisional_only:
                provisional_ids = sa.select(col(GradeRecord.id)).where(
                    col(GradeRecord.provisional).is_(True)
                )
                condition = sa.or_(condition, col(Answer.current_grade_id).in_(provisional_ids))
            statement = (
                sa.update(Answer)
                .where(condition)
                .values(
                    status=AnswerStatus.PENDING,
                    claim_token=None,
                    attempts=0,
                    retry_at=None,
                    updated_at=self._clock.now(),
                )
            )
            if answer_ids is not None:
                statement = statement.where(col(Answer.id).in_(answer_ids))
            result = await session.execute(statement)
        self.wake()
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def failed(self, limit: int = 50) -> list[Answer]:
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(Answer)
                .where(col(Answer.status) == AnswerStatus.FAILED)
                .order_by(col(Answer.id).desc())
                .limit(limit)
            )
            return list(rows.scalars())
