"""Answer submission: validate, store verbatim, queue for grading, acknowledge at once.

Rules (also in the README):
- Whitespace-only answers and answers over ``MAX_ANSWER_CHARS`` characters are refused with a
  clear message, and nothing is stored.
- One scored answer per member per daily question: a resubmission before the question closes
  replaces the earlier one for scoring; the earlier text is kept, marked superseded. The answer
  form says so before the member sends (time and score of the answer it replaces).
- An answer after the question closed is graded for practice and earns no points.
- The answer row is committed before the receipt is returned, so a crash loses nothing.

Intake is a group commit: concurrent submissions of this process queue up and one writer task
stores each batch in one transaction (a single SQLite writer or a pooled PostgreSQL connection
then serves hundreds of submissions at once). If a batch fails (say another process inserted the
same member's answer to the same post at the same instant on PostgreSQL), its items are retried
one by one, and the later one becomes the resubmission it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot import metrics
from bot.clock import Clock
from bot.domain.answers import (
    MAX_ANSWER_CHARS,
    AnswerRejected,
    RejectionReason,
    validate_answer_text,
)
from bot.services.cards import Card, receipt_card
from bot.services.directory import Actor
from bot.storage.db import transaction
from bot.storage.models import (
    Answer,
    AnswerKind,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    MockSession,
    MockStatus,
    MockTurn,
    QuestionVersion,
    TurnStatus,
    Workspace,
    id_column,
)

log = logging.getLogger(__name__)

#: Most submissions stored in one transaction.
MAX_BATCH = 500
#: Smallest batch worth splitting into parallel transactions (``parallel_batches``).
PARALLEL_MIN_BATCH = 64
#: Attempts of a single submission after its batch failed.
SINGLE_RETRIES = 3

__all__ = [
    "MAX_ANSWER_CHARS",
    "AnswerRejected",
    "AnswerService",
    "AnswerTarget",
    "Receipt",
    "RejectionReason",
    "validate_answer_text",
]


@dataclass(frozen=True)
class AnswerTarget:
    """What an answer answers: a daily post, or a question (practice)."""

    kind: AnswerKind
    id: int

    def encode(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def decode(cls, text: str) -> AnswerTarget:
        kind, _, raw = text.partition(":")
        try:
            return cls(AnswerKind(kind), int(raw))
        except ValueError:
            raise AnswerRejected(
                RejectionReason.UNKNOWN_QUESTION, "That question does not exist."
            ) from None

    @classmethod
    def daily(cls, post_id: int) -> AnswerTarget:
        return cls(AnswerKind.DAILY, post_id)

    @classmethod
    def practice(cls, question_id: int) -> AnswerTarget:
        return cls(AnswerKind.PRACTICE, question_id)

    @classmethod
    def mock(cls, turn_id: int) -> AnswerTarget:
        return cls(AnswerKind.MOCK, turn_id)


class ReceiptStatus(StrEnum):
    SCORED = "scored"
    REPLACED = "replaced"
    LATE = "late"
    PRACTICE = "practice"
    MOCK = "mock"


@dataclass(frozen=True)
class Receipt:
    answer_id: int
    status: ReceiptStatus

    @property
    def scored(self) -> bool:
        return self.status in (ReceiptStatus.SCORED, ReceiptStatus.REPLACED)

    @property
    def replaced_earlier(self) -> bool:
        return self.status is ReceiptStatus.REPLACED

    @property
    def late(self) -> bool:
        return self.status is ReceiptStatus.LATE

    @property
    def message(self) -> str:
        return {
            ReceiptStatus.LATE: "Received. This question has closed, so it is graded for "
            "practice (no points).",
            ReceiptStatus.REPLACED: "Received. This replaces your earlier answer; only this one "
            "counts. Grading now.",
            ReceiptStatus.SCORED: "Received. Your answer is stored and being graded; the result "
            "comes to you privately.",
            ReceiptStatus.PRACTICE: "Received. Grading your practice answer now; the result "
            "comes to you privately.",
            ReceiptStatus.MOCK: "Received. Grading it now; your result and the next question "
            "follow in a moment.",
        }[self.status]

    @property
    def card(self) -> Card:
        return receipt_card(self.message)


@dataclass(frozen=True)
class PreviousAnswer:
    submitted_at: datetime
    score: int | None


@dataclass(frozen=True)
class AnswerForm:
    """What an adapter needs to show the private answer form (a modal, a prompt)."""

    target: AnswerTarget
    title: str
    prompt: str
    label: str
    #: Said before the member sends: it replaces an earlier answer, or it is too late to score.
    note: str
    max_chars: int = MAX_ANSWER_CHARS
    previous: PreviousAnswer | None = None


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


@dataclass
class _Pending:
    actor: Actor
    target: AnswerTarget
    text: str
    reply_context: dict[str, Any]
    future: asyncio.Future[Receipt]
    submitted_at: datetime | None = field(default=None)


def live_scored_answers(pairs: set[tuple[int, int]]) -> sa.ColumnElement[bool]:
    """The members' live scored answers to the posts, for ``(post id, member id)`` pairs.

    Written per post as ``daily_post_id = p AND member_id IN (...)``: a batch nearly always
    answers one post, and PostgreSQL plans that as one index condition and one hashed array
    test. A row-value ``IN`` over 500 pairs became a 500-way OR that took PostgreSQL 8-20 ms
    to plan and was tested row by row (at a million answers). The plain ``IN`` on the posts
    lets SQLite search the post index; with the row-value IN alone it scanned every answer."""
    members_of: dict[int, set[int]] = {}
    for post, member in pairs:
        members_of.setdefault(post, set()).add(member)
    per_post = [
        sa.and_(col(Answer.daily_post_id) == post, col(Answer.member_id).in_(sorted(members)))
        for post, members in sorted(members_of.items())
    ]
    return sa.and_(
        col(Answer.superseded).is_(False),
        col(Answer.scored).is_(True),
        col(Answer.daily_post_id).in_(sorted(members_of)),
        sa.or_(*per_post),
    )


def _not_found() -> AnswerRejected:
    return AnswerRejected(RejectionReason.UNKNOWN_QUESTION, "That question does not exist.")


class AnswerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        wake_grader: Callable[[], None] = lambda: None,
        max_batch: int = MAX_BATCH,
        parallel_batches: int = 1,
    ):
        """``parallel_batches``: how many transactions a large batch is split into, written
        at the same time (a member's answers always in the same one, in order). Worth it
        where the database works beside the bot (PostgreSQL); SQLite has one writer."""
        self._sessions = sessions
        self._clock = clock
        self._wake_grader = wake_grader
        self._max_batch = max_batch
        self._parallel = max(1, parallel_batches)
        self._queue: deque[_Pending] = deque()
        self._signal: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        #: Transactions the intake committed (benchmarks read it).
        self.batches = 0

    def set_wake_grader(self, wake: Callable[[], None]) -> None:
        self._wake_grader = wake

    # --- the form ------------------------------------------------------------------------

    async def form(self, actor: Actor, target: AnswerTarget) -> AnswerForm:
        """The answer form for a daily post or a practice question; refuses unknown targets
        and targets of another workspace."""
        async with self._sessions() as session:
            if target.kind is AnswerKind.DAILY:
                row = (
                    await session.execute(
                        sa.select(DailyPost, Channel, QuestionVersion)
                        .join(Channel, col(Channel.id) == DailyPost.channel_id)
                        .join(QuestionVersion, col(QuestionVersion.id) == DailyPost.question_id)
                        .where(col(DailyPost.id) == target.id)
                    )
                ).first()
                if row is None or row[1].workspace_id != actor.workspace_id:
                    raise _not_found()
                post, channel, daily_question = row
                now = self._clock.now()
                previous = await self._previous(session, actor.member_id, target.id)
                if post.closed_at is not None or now >= post.closes_at:
                    note = (
                        "This question has closed: your answer is graded for practice (no points)."
                    )
                elif previous is not None:
                    local = previous.submitted_at.astimezone(ZoneInfo(channel.timezone))
                    score = f", score {previous.score}/100" if previous.score is not None else ""
                    note = f"This replaces your answer of {local:%H:%M}{score}: only the new one counts."
                else:
                    note = "Only you see your answer. You may improve it until the question closes."
                return AnswerForm(
                    target=target,
                    title="Today's question",
                    prompt=daily_question.prompt,
                    label="Your answer",
                    note=note,
                    previous=previous,
                )
            if target.kind is AnswerKind.MOCK:
                found = (await self._turns(session, {target.id})).get(target.id)
                if found is None or found[1].member_id != actor.member_id:
                    raise _not_found()
                turn, mock = found
                question = await session.get(QuestionVersion, turn.question_id)
                assert question is not None
                return AnswerForm(
                    target=target,
                    title=f"Question {turn.number} of {mock.length}",
                    prompt=question.prompt,
                    label="Your answer",
                    note="Mock interview: graded privately, no points.",
                )
            question = await session.get(QuestionVersion, target.id)
            if question is None or not await self._in_scope(session, actor, question):
                raise _not_found()
            return AnswerForm(
                target=target,
                title="Practice question",
                prompt=question.prompt,
                label="Your answer",
                note="Practice: graded privately, no points.",
            )

    async def _in_scope(
        self, session: AsyncSession, actor: Actor, question: QuestionVersion
    ) -> bool:
        if question.scope == "":
            return True
        workspace = await session.get(Workspace, actor.workspace_id)
        return workspace is not None and question.scope in (
            workspace.scope_key,
            f"oneoff:{workspace.scope_key}",
        )

    async def _previous(
        self, session: AsyncSession, member_id: int, post_id: int
    ) -> PreviousAnswer | None:
        row = (
            await session.execute(
                sa.select(col(Answer.submitted_at), col(GradeRecord.score))
                .outerjoin(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                .where(
                    col(Answer.daily_post_id) == post_id,
                    col(Answer.member_id) == member_id,
                    col(Answer.scored).is_(True),
                    col(Answer.superseded).is_(False),
                )
            )
        ).first()
        return PreviousAnswer(row[0], row[1]) if row else None

    async def previous_answer(self, member_id: int, post_id: int) -> PreviousAnswer | None:
        async with self._sessions() as session:
            return await self._previous(session, member_id, post_id)

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

    # --- submission ----------------------------------------------------------------------

    async def submit(
        self,
        actor: Actor,
        target: AnswerTarget,
        text: str,
        *,
        reply_context: Mapping[str, Any] | None = None,
    ) -> Receipt:
        """Store the answer (durably) and return the receipt; grading happens afterwards."""
        text = validate_answer_text(text)
        loop = asyncio.get_running_loop()
        pending = _Pending(actor, target, text, dict(reply_context or {}), loop.create_future())
        self._queue.append(pending)
        if self._signal is None:
            self._signal = asyncio.Event()
        self._signal.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="answer-intake")
        return await pending.future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the bot is shutting down"))

    async def _write_loop(self) -> None:
        assert self._signal is not None
        while True:
            await self._signal.wait()
            self._signal.clear()
            while self._queue:
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))
                ]
                if self._parallel > 1 and len(batch) >= PARALLEL_MIN_BATCH:
                    # split by member, so no two transactions touch one member's live answer
                    # (no unique-index waits between them) and each member's order is kept
                    parts: list[list[_Pending]] = [[] for _ in range(self._parallel)]
                    for pending in batch:
                        parts[pending.actor.member_id % self._parallel].append(pending)
                    await asyncio.gather(*(self._write(part) for part in parts if part))
                else:
                    await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await self._write_batch(batch)
        except asyncio.CancelledError:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(RuntimeError("the bot is shutting down"))
            raise
        except Exception as exc:
            log.info(
                "answer batch of %s failed (%s); storing one by one", len(batch), type(exc).__name__
            )
            for pending in batch:
                if not pending.future.done():
                    await self._write_single(pending)
        self._wake_grader()

    async def _write_single(self, pending: _Pending) -> None:
        for attempt in range(SINGLE_RETRIES):
            try:
                await self._write_batch([pending])
                return
            except IntegrityError as exc:
                # a concurrent resubmission from another process won the race: try again, this
                # one becomes the newer resubmission
                if attempt + 1 == SINGLE_RETRIES and not pending.future.done():
                    pending.future.set_exception(exc)
            except Exception as exc:
                if not pending.future.done():
                    pending.future.set_exception(exc)
                return

    async def _write_batch(self, batch: Sequence[_Pending]) -> None:
        now = self._clock.now()
        outcomes: dict[int, Receipt | AnswerRejected] = {}
        async with transaction(self._sessions) as session:
            posts = await self._posts(
                session, {p.target.id for p in batch if p.target.kind is AnswerKind.DAILY}
            )
            questions = await self._questions(
                session, {p.target.id for p in batch if p.target.kind is AnswerKind.PRACTICE}
            )
            turns = await self._turns(
                session, {p.target.id for p in batch if p.target.kind is AnswerKind.MOCK}
            )
            turn_of_row: dict[int, int] = {}  # row index -> mock turn id
            # (a workspace's question scopes decide practice answers only)
            scopes = await self._scopes(
                session,
                {p.actor.workspace_id for p in batch if p.target.kind is AnswerKind.PRACTICE},
            )
            rows: list[dict[str, Any]] = []
            owners: list[int] = []
            live: dict[tuple[int | None, int], int] = {}  # (post, member) -> index in rows
            first: dict[tuple[int | None, int], int] = {}  # the pair's first row in the batch
            statuses: dict[int, ReceiptStatus] = {}
            in_window: set[tuple[int, int]] = set()
            for index, pending in enumerate(batch):
                target, actor = pending.target, pending.actor
                if target.kind is AnswerKind.DAILY:
                    found = posts.get(target.id)
                    if found is None or found[1] != actor.workspace_id:
                        outcomes[index] = _not_found()
                        continue
                    post = found[0]
                    late = post.closed_at is not None or now >= post.closes_at
                    question_id = post.question_id
                    if not late:
                        in_window.add((target.id, actor.member_id))
                elif target.kind is AnswerKind.MOCK:
                    found_turn = turns.get(target.id)
                    if (
                        found_turn is None
                        or found_turn[1].member_id != actor.member_id
                        or found_turn[1].status is not MockStatus.ACTIVE
                        or found_turn[0].status is not TurnStatus.ASKED
                        or target.id in turn_of_row.values()
                    ):
                        outcomes[index] = AnswerRejected(
                            RejectionReason.UNKNOWN_QUESTION,
                            "That interview question is no longer waiting for an answer.",
                        )
                        continue
                    late = False
                    question_id = found_turn[0].question_id
                    turn_of_row[len(rows)] = target.id
                else:
                    scope = questions.get(target.id)
                    allowed = scopes.get(actor.workspace_id, set())
                    if scope is None or (scope != "" and scope not in allowed):
                        outcomes[index] = _not_found()
                        continue
                    late = False
                    question_id = target.id
                kind = target.kind
                scored = kind is AnswerKind.DAILY and not late
                status = (
                    ReceiptStatus.SCORED
                    if scored
                    else ReceiptStatus.LATE
                    if kind is AnswerKind.DAILY
                    else ReceiptStatus.MOCK
                    if kind is AnswerKind.MOCK
                    else ReceiptStatus.PRACTICE
                )
                if scored:
                    pair = (target.id, actor.member_id)
                    earlier = live.get(pair)
                    if earlier is not None:  # the same member twice in one batch
                        rows[earlier]["superseded"] = True
                        status = ReceiptStatus.REPLACED
                    else:
                        first[pair] = len(rows)
                    live[pair] = len(rows)
                statuses[index] = status
                owners.append(index)
                rows.append(
                    {
                        "member_id": actor.member_id,
                        "question_id": question_id,
                        "daily_post_id": target.id if kind is AnswerKind.DAILY else None,
                        "kind": kind,
                        "text": pending.text,
                        "status": AnswerStatus.PENDING,
                        "scored": scored,
                        "superseded": False,
                        "attempts": 0,
                        "reply_context": pending.reply_context,
                        "intake_key": uuid.uuid4(),
                        "submitted_at": now,
                        "updated_at": now,
                    }
                )
            if in_window:
                replaced = await session.execute(
                    sa.update(Answer)
                    .where(live_scored_answers(in_window))
                    .values(superseded=True, updated_at=now)
                    .returning(col(Answer.daily_post_id), col(Answer.member_id))
                )
                for replaced_post, replaced_member in replaced.all():
                    # the stored answer is replaced by this batch's first answer of that member
                    # (a later one in the batch replaces that first one, and says so already)
                    index_in_rows = first.get((replaced_post, replaced_member))
                    if index_in_rows is not None:
                        statuses[owners[index_in_rows]] = ReceiptStatus.REPLACED
            if rows:
                # Core: no ORM bookkeeping per row. SQLModel gives every table class its
                # __table__ but its stubs do not declare it.
                answers: sa.Table = Answer.__table__  # type: ignore[attr-defined]
                inserted = await session.execute(
                    sa.insert(answers).returning(answers.c.id, sort_by_parameter_order=True), rows
                )
                for row_index, (owner, answer_id) in enumerate(
                    zip(owners, inserted.scalars().all(), strict=True)
                ):
                    outcomes[owner] = Receipt(answer_id, statuses[owner])
                    turn_id = turn_of_row.get(row_index)
                    if turn_id is not None:
                        await session.execute(
                            sa.update(MockTurn)
                            .where(
                                col(MockTurn.id) == turn_id,
                                col(MockTurn.status) == TurnStatus.ASKED,
                            )
                            .values(answer_id=answer_id, status=TurnStatus.ANSWERED)
                        )
                        await session.execute(
                            sa.update(MockSession)
                            .where(col(MockSession.id) == turns[turn_id][1].id)
                            .values(last_activity_at=now)
                        )
        self.batches += 1
        for index, pending in enumerate(batch):
            outcome = outcomes[index]
            if pending.future.done():
                continue
            if isinstance(outcome, Receipt):
                metrics.ANSWERS_RECEIVED.labels(pending.target.kind.value).inc()
                pending.future.set_result(outcome)
            else:
                pending.future.set_exception(outcome)

    async def _posts(
        self, session: AsyncSession, ids: set[int]
    ) -> dict[int, tuple[DailyPost, int]]:
        if not ids:
            return {}
        rows = await session.execute(
            sa.select(DailyPost, col(Channel.workspace_id))
            .join(Channel, col(Channel.id) == DailyPost.channel_id)
            .where(col(DailyPost.id).in_(sorted(ids)))
        )
        return {
            post.id: (post, workspace_id)
            for post, workspace_id in rows.all()
            if post.id is not None
        }

    async def _turns(
        self, session: AsyncSession, ids: set[int]
    ) -> dict[int, tuple[MockTurn, MockSession]]:
        if not ids:
            return {}
        rows = await session.execute(
            sa.select(MockTurn, MockSession)
            .join(MockSession, col(MockSession.id) == MockTurn.session_id)
            .where(col(MockTurn.id).in_(sorted(ids)))
        )
        return {turn.id: (turn, mock) for turn, mock in rows.all() if turn.id is not None}

    async def _questions(self, session: AsyncSession, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await session.execute(
            sa.select(id_column(QuestionVersion.id), col(QuestionVersion.scope)).where(
                col(QuestionVersion.id).in_(sorted(ids))
            )
        )
        return {question_id: scope for question_id, scope in rows.all()}

    async def _scopes(self, session: AsyncSession, workspace_ids: set[int]) -> dict[int, set[str]]:
        if not workspace_ids:
            return {}
        rows = await session.execute(
            sa.select(Workspace).where(col(Workspace.id).in_(sorted(workspace_ids)))
        )
        return {
            workspace.id: {workspace.scope_key, f"oneoff:{workspace.scope_key}"}
            for workspace in rows.scalars()
            if workspace.id is not None
        }
