"""Private mock interviews: several questions in a row that adapt to how well the member answers,
one follow-up question when an answer misses key points (with an LLM), and a written report.

The state lives in the database (``mock_session``, ``mock_turn``), so a restart resumes an
interview where it stopped. Each answer goes through the normal intake and grading worker (the
same injection defences and rate limits); when its grade is stored, the worker asks this service
for the next step and delivers, in the grade's own transaction, the member's result and what
comes next (the next question, a follow-up, or the final report).

Rules: difficulty goes up after a strong answer (>= ``STRONG``) and down after a weak one
(< ``WEAK``); a follow-up is asked at most once per question, only with an LLM, and is graded
against the key points the answer missed; an interview idle for longer than the idle timeout
expires with a summary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.domain.bank import Difficulty, KeyPoint, Track
from bot.services.cards import (
    DIFFICULTY_BADGE,
    Attachment,
    ButtonAction,
    Card,
    CardButton,
    CardField,
    CardKind,
    quote_user_text,
    shorten,
)
from bot.services.delivery import Target, enqueue
from bot.services.directory import Actor
from bot.services.practice import PracticeService
from bot.storage.db import transaction
from bot.storage.models import (
    Answer,
    DeliveryAction,
    GradeRecord,
    Member,
    MockSession,
    MockStatus,
    MockTurn,
    QuestionVersion,
    TurnStatus,
    Workspace,
)

STRONG = 75
WEAK = 50
LEVELS = [Difficulty.BEGINNER, Difficulty.INTERMEDIATE, Difficulty.ADVANCED]
MAX_FOLLOW_UP_CHARS = 400


class InterviewError(ValueError):
    """A mock-interview request that cannot be done; the message is for the member."""


def adapt(level: Difficulty, score: int | None) -> Difficulty:
    """Up after a strong answer, down after a weak (or skipped) one."""
    index = LEVELS.index(level)
    if score is not None and score >= STRONG:
        index = min(index + 1, len(LEVELS) - 1)
    elif score is None or score < WEAK:
        index = max(index - 1, 0)
    return LEVELS[index]


def reweighted(points: Sequence[KeyPoint]) -> tuple[KeyPoint, ...]:
    """The missed key points with integer weights adding up to 10 again (largest remainder)."""
    total = sum(point.weight for point in points)
    shares = [10 * point.weight / total for point in points]
    weights = [max(1, int(share)) for share in shares]
    while sum(weights) < 10:
        index = max(range(len(points)), key=lambda i: shares[i] - weights[i])
        weights[index] += 1
    while sum(weights) > 10:
        index = max(range(len(points)), key=lambda i: weights[i] - shares[i])
        weights[index] -= 1
    return tuple(
        point.model_copy(update={"weight": weight})
        for point, weight in zip(points, weights, strict=True)
    )


@dataclass(frozen=True)
class MockPlan:
    """What comes after a graded mock answer (decided before the grade's transaction)."""

    session_id: int
    turn_id: int
    #: the key points a follow-up should probe (empty: no follow-up)
    follow_up_points: tuple[KeyPoint, ...] = ()
    next_question: QuestionVersion | None = None
    next_difficulty: Difficulty | None = None
    finish: bool = False
    #: a turn the interview moved past (graded before, or skipped while its grade was
    #: waiting): its score only
    score_only: bool = False


@dataclass(frozen=True)
class MockReport:
    overall: float | None
    per_topic: dict[str, float]
    strongest: list[str]
    weakest: list[str]
    revisit: list[tuple[str, str]]
    previous: list[float]
    follow_ups: int
    answered: int
    skipped: int
    transcript: str = field(repr=False, default="")


async def _updated(session: AsyncSession, statement: sa.Update) -> bool:
    """Whether a guarded update changed its row (of two at once, the second changes none)."""
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _question_card(
    question: QuestionVersion,
    turn: MockTurn,
    length: int,
    *,
    note: str = "",
) -> Card:
    assert turn.id is not None
    place = f"Question {turn.number} of {length}"
    title = f"🎤 Mock interview · {place}" + (" · follow-up" if turn.follow_up else "")
    fields = (
        CardField(name="Topic", value=question.topic, inline=True),
        CardField(name="Level", value=DIFFICULTY_BADGE.get(turn.difficulty.value, ""), inline=True),
    )
    return Card(
        kind=CardKind.MOCK,
        title=title,
        body=question.prompt,
        fields=() if turn.follow_up else fields,
        buttons=(
            CardButton(
                action=ButtonAction.ANSWER_MOCK, label="Answer", value=str(turn.id), primary=True
            ),
            CardButton(action=ButtonAction.MOCK_SKIP, label="Skip"),
            CardButton(action=ButtonAction.MOCK_STOP, label="Stop"),
        ),
        footer=(note + " " if note else "") + "Private: only you see this interview.",
        private=True,
    )


class MockInterviews:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        practice: PracticeService,
        *,
        follow_ups: bool = False,
        default_length: int = 5,
        max_length: int = 10,
        idle: timedelta = timedelta(hours=1),
        after_commit: Any = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._practice = practice
        self.follow_ups = follow_ups
        self.default_length = default_length
        self.max_length = max_length
        self._idle = idle
        self._after_commit = after_commit

    # --- starting, resuming, skipping, stopping --------------------------------------------

    async def _active(self, session: AsyncSession, member_id: int) -> MockSession | None:
        return (
            await session.execute(
                sa.select(MockSession)
                .where(
                    col(MockSession.member_id) == member_id,
                    col(MockSession.status) == MockStatus.ACTIVE,
                )
                .order_by(col(MockSession.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _current_turn(self, session: AsyncSession, mock: MockSession) -> MockTurn | None:
        return (
            await session.execute(
                sa.select(MockTurn)
                .where(col(MockTurn.session_id) == mock.id)
                .order_by(col(MockTurn.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def start(
        self,
        actor: Actor,
        *,
        topic: str | None = None,
        track: Track | None = None,
        difficulty: Difficulty | None = None,
        length: int | None = None,
        new: bool = False,
        reply_context: dict[str, Any] | None = None,
    ) -> Card:
        """Start an interview, or resume the one in progress (``new`` abandons it first)."""
        length = self.default_length if length is None else length
        if not 1 <= length <= self.max_length:
            raise InterviewError(f"An interview has 1 to {self.max_length} questions.")
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            active = await self._active(session, actor.member_id)
            if active is not None and not new:
                turn = await self._current_turn(session, active)
                if turn is not None and turn.status in (TurnStatus.ASKED,):
                    question = await session.get(QuestionVersion, turn.question_id)
                    assert question is not None
                    active.last_activity_at = now
                    return _question_card(
                        question, turn, active.length, note="Resumed where you stopped."
                    )
                raise InterviewError(
                    "Your interview is waiting for a grade; the next question follows it."
                )
            if active is not None:
                active.status, active.finished_at = MockStatus.ABANDONED, now
        level = difficulty or Difficulty.INTERMEDIATE
        question = await self._pick(actor, track, topic, level, exclude=())
        if question is None:
            raise InterviewError("No question matches that topic and level.")
        async with transaction(self._sessions) as session:
            mock = MockSession(
                member_id=actor.member_id,
                workspace_id=actor.workspace_id,
                status=MockStatus.ACTIVE,
                track=track,
                topic=topic,
                difficulty=level,
                length=length,
                channel_external_id=actor.channel_external_id,
                reply_context=dict(reply_context or {}),
                report={},
                started_at=now,
                last_activity_at=now,
            )
            session.add(mock)
            await session.flush()
            assert mock.id is not None and question.id is not None
            turn = MockTurn(
                session_id=mock.id,
                number=1,
                question_id=question.id,
                difficulty=question.difficulty,
                created_at=now,
            )
            session.add(turn)
            await session.flush()
            return _question_card(question, turn, length)

    async def _pick(
        self,
        actor: Actor,
        track: Track | None,
        topic: str | None,
        level: Difficulty,
        exclude: Sequence[str],
    ) -> QuestionVersion | None:
        scope = f"{actor.platform.value}:{actor.workspace_external_id}"
        for candidate_level in [level, *[other for other in LEVELS if other is not level]]:
            question = await self._practice.next_question(
                actor.member_id,
                scope=scope,
                track=track,
                topics=[topic] if topic else (),
                difficulty=candidate_level,
                exclude_bank_ids=exclude,
                workspace_id=actor.workspace_id,
            )
            if question is not None:
                return question
        return None

    async def skip(self, actor: Actor) -> list[Card]:
        """Skip the current question (counted as unanswered) and move on."""
        async with transaction(self._sessions) as session:
            mock = await self._active(session, actor.member_id)
            if mock is None:
                raise InterviewError("You have no interview in progress.")
            turn = await self._current_turn(session, mock)
            # an answer still waiting for its grade (the LLM is down) is skipped too: its grade
            # counts when it comes. A guarded update: of two skips at once, one moves on
            if turn is None or not await _updated(
                session,
                sa.update(MockTurn)
                .where(
                    col(MockTurn.id) == turn.id,
                    col(MockTurn.status).in_([TurnStatus.ASKED, TurnStatus.ANSWERED]),
                )
                .values(status=TurnStatus.SKIPPED),
            ):
                raise InterviewError("That question is done; the next one is on its way.")
        plan = await self._plan_next(actor, mock, turn, None)
        async with transaction(self._sessions) as session:
            mock = await session.get(MockSession, plan.session_id)
            assert mock is not None
            return await self._apply(session, mock, plan, None, self._clock.now())

    async def stop(self, actor: Actor) -> list[Card]:
        async with transaction(self._sessions) as session:
            mock = await self._active(session, actor.member_id)
            # a guarded update: of two stops at once (a double click), one ends it and reports
            if mock is None or not await _updated(
                session,
                sa.update(MockSession)
                .where(col(MockSession.id) == mock.id, col(MockSession.status) == MockStatus.ACTIVE)
                .values(status=MockStatus.STOPPED),
            ):
                raise InterviewError("You have no interview in progress.")
            return [await self._finish(session, mock, MockStatus.STOPPED, self._clock.now())]

    async def last_report(self, actor: Actor) -> Card:
        async with self._sessions() as session:
            mock = (
                await session.execute(
                    sa.select(MockSession)
                    .where(
                        col(MockSession.member_id) == actor.member_id,
                        col(MockSession.status).in_(
                            [MockStatus.FINISHED, MockStatus.STOPPED, MockStatus.EXPIRED]
                        ),
                    )
                    .order_by(col(MockSession.id).desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if mock is None:
                raise InterviewError("You have no finished interview yet.")
            return report_card(MockReport(**mock.report), attach=True, ended=mock.status)

    # --- after a grade (called by the grading worker) --------------------------------------

    async def plan_after_grade(
        self, answer: Answer, grade_score: int, missed: Sequence[KeyPoint]
    ) -> MockPlan | None:
        """What follows this graded mock answer; None when it belongs to no active interview."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(MockTurn, MockSession, Member, Workspace)
                    .join(MockSession, col(MockSession.id) == MockTurn.session_id)
                    .join(Member, col(Member.id) == MockSession.member_id)
                    .join(Workspace, col(Workspace.id) == MockSession.workspace_id)
                    .where(col(MockTurn.answer_id) == answer.id)
                )
            ).first()
        if row is None:
            return None
        turn, mock, member, workspace = row
        if mock.status is not MockStatus.ACTIVE:
            return None
        assert mock.id is not None and turn.id is not None
        if turn.status in (TurnStatus.GRADED, TurnStatus.SKIPPED):  # the next was asked already
            return MockPlan(mock.id, turn.id, score_only=True)
        if self.follow_ups and not turn.follow_up and missed:
            return MockPlan(mock.id, turn.id, follow_up_points=tuple(missed))
        actor = Actor(
            platform=workspace.platform,
            workspace_id=workspace.id or 0,
            workspace_external_id=workspace.external_id,
            member_id=member.id or 0,
            member_external_id=member.external_id,
            display_name=member.display_name,
        )
        return await self._plan_next(actor, mock, turn, grade_score)

    async def without_follow_up(self, plan: MockPlan, answer: Answer, score: int) -> MockPlan:
        """The plan when a follow-up could not be written (the LLM failed): the next question."""
        replanned = await self.plan_after_grade(answer, score, ())
        return replanned or plan

    async def _plan_next(
        self, actor: Actor, mock: MockSession, turn: MockTurn, score: int | None
    ) -> MockPlan:
        assert mock.id is not None and turn.id is not None
        if turn.number >= mock.length:
            return MockPlan(mock.id, turn.id, finish=True)
        main_score = score
        if turn.follow_up:  # the level follows the question, not its follow-up
            async with self._sessions() as session:
                main_score = (
                    await session.execute(
                        sa.select(col(MockTurn.score)).where(
                            col(MockTurn.session_id) == mock.id,
                            col(MockTurn.number) == turn.number,
                            col(MockTurn.follow_up).is_(False),
                        )
                    )
                ).scalar_one_or_none()
        level = adapt(mock.difficulty, main_score)
        async with self._sessions() as session:
            asked = list(
                (
                    await session.execute(
                        sa.select(col(QuestionVersion.bank_id))
                        .join(MockTurn, col(MockTurn.question_id) == QuestionVersion.id)
                        .where(col(MockTurn.session_id) == mock.id)
                    )
                ).scalars()
            )
        question = await self._pick(actor, mock.track, mock.topic, level, exclude=asked)
        if question is None:
            return MockPlan(mock.id, turn.id, finish=True)
        return MockPlan(mock.id, turn.id, next_question=question, next_difficulty=level)

    async def apply_after_grade(
        self,
        session: AsyncSession,
        plan: MockPlan,
        score: int,
        follow_up_text: str | None,
        now: datetime,
    ) -> list[Card]:
        """In the grade's transaction: record the score, add what comes next, return the cards
        to deliver after the member's result."""
        turn = await session.get(MockTurn, plan.turn_id)
        mock = await session.get(MockSession, plan.session_id)
        assert turn is not None and mock is not None
        turn.status, turn.score = TurnStatus.GRADED, score
        session.add(turn)
        if plan.score_only:
            return []
        return await self._apply(session, mock, plan, follow_up_text, now)

    async def _apply(
        self,
        session: AsyncSession,
        mock: MockSession,
        plan: MockPlan,
        follow_up_text: str | None,
        now: datetime,
    ) -> list[Card]:
        if mock.status is not MockStatus.ACTIVE:  # stopped (or expired) since the plan
            return []
        mock.last_activity_at = now
        current = await session.get(MockTurn, plan.turn_id)
        assert current is not None and mock.id is not None
        if plan.follow_up_points and follow_up_text:
            original = await session.get(QuestionVersion, current.question_id)
            assert original is not None
            follow = self._follow_up_question(original, plan.follow_up_points, follow_up_text, now)
            # the same follow-up on the same missed points (the generic one, a deterministic
            # model) was asked before, maybe of another member: its row is unique, share it
            asked = (
                await session.execute(
                    sa.select(QuestionVersion).where(
                        col(QuestionVersion.scope) == follow.scope,
                        col(QuestionVersion.bank_id) == follow.bank_id,
                        col(QuestionVersion.content_hash) == follow.content_hash,
                    )
                )
            ).scalar_one_or_none()
            if asked is None:
                session.add(follow)
                await session.flush()
            else:
                follow = asked
            assert follow.id is not None
            turn = MockTurn(
                session_id=mock.id,
                number=current.number,
                follow_up=True,
                question_id=follow.id,
                difficulty=current.difficulty,
                created_at=now,
            )
            session.add(turn)
            await session.flush()
            return [_question_card(follow, turn, mock.length)]
        if plan.finish or plan.next_question is None:
            return [await self._finish(session, mock, MockStatus.FINISHED, now)]
        question = plan.next_question
        assert question.id is not None and plan.next_difficulty is not None
        mock.difficulty = plan.next_difficulty
        turn = MockTurn(
            session_id=mock.id,
            number=current.number + 1,
            question_id=question.id,
            difficulty=question.difficulty,
            created_at=now,
        )
        session.add(turn)
        session.add(mock)
        await session.flush()
        return [_question_card(question, turn, mock.length)]

    @staticmethod
    def _follow_up_question(
        original: QuestionVersion, points: Sequence[KeyPoint], text: str, now: datetime
    ) -> QuestionVersion:
        rubric = reweighted(points)
        digest = hashlib.sha256(
            (text + "|" + "|".join(point.text for point in rubric)).encode()
        ).hexdigest()[:16]
        return QuestionVersion(
            scope=f"followup:{original.scope}",
            bank_id=f"{original.bank_id}-follow-up"[:80],
            content_hash=digest,
            track=original.track,
            topic=original.topic,
            difficulty=original.difficulty,
            llm_only=original.llm_only,
            prompt=text[:MAX_FOLLOW_UP_CHARS],
            reference=original.reference,
            key_points=[point.model_dump(exclude_defaults=True) for point in rubric],
            tags=[],
            active=False,
            created_at=now,
        )

    # --- endings ---------------------------------------------------------------------------

    async def _finish(
        self, session: AsyncSession, mock: MockSession, status: MockStatus, now: datetime
    ) -> Card:
        report = await self._report(session, mock)
        mock.status, mock.finished_at = status, now
        mock.overall_score = report.overall
        mock.report = {key: value for key, value in report.__dict__.items()}
        session.add(mock)
        return report_card(report, attach=True, ended=status)

    async def expire_idle(self) -> int:
        """End interviews idle for longer than the idle timeout, with their summary."""
        now = self._clock.now()
        async with self._sessions() as session:
            stale = list(
                (
                    await session.execute(
                        sa.select(col(MockSession.id)).where(
                            col(MockSession.status) == MockStatus.ACTIVE,
                            col(MockSession.last_activity_at) < now - self._idle,
                        )
                    )
                ).scalars()
            )
        expired = 0
        for session_id in stale:
            async with transaction(self._sessions) as session:
                mock = await session.get(MockSession, session_id, with_for_update=True)
                if mock is None or mock.status is not MockStatus.ACTIVE:
                    continue
                card = await self._finish(session, mock, MockStatus.EXPIRED, now)
                member = await session.get(Member, mock.member_id)
                workspace = await session.get(Workspace, mock.workspace_id)
                assert member is not None and workspace is not None
                enqueue(
                    session,
                    mock_target(workspace, member, mock),
                    card,
                    action=DeliveryAction.PRIVATE,
                    topic="mock",
                    now=now,
                )
                expired += 1
        if expired:
            self._after_commit()
        return expired

    async def _report(self, session: AsyncSession, mock: MockSession) -> MockReport:
        rows = (
            await session.execute(
                sa.select(MockTurn, QuestionVersion, Answer, GradeRecord)
                .join(QuestionVersion, col(QuestionVersion.id) == MockTurn.question_id)
                .outerjoin(Answer, col(Answer.id) == MockTurn.answer_id)
                .outerjoin(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                .where(col(MockTurn.session_id) == mock.id)
                .order_by(col(MockTurn.id))
            )
        ).all()
        main = [row for row in rows if not row[0].follow_up]
        scored = [(turn, question) for turn, question, _, _ in main if turn.score is not None]
        skipped = sum(1 for turn, *_ in main if turn.status is TurnStatus.SKIPPED)
        counted = [
            turn.score or 0
            for turn, *_ in main
            if turn.status in (TurnStatus.GRADED, TurnStatus.SKIPPED)
        ]
        overall = round(sum(counted) / len(counted), 1) if counted else None
        per_topic: dict[str, list[int]] = {}
        for turn, question in scored:
            per_topic.setdefault(question.topic, []).append(turn.score or 0)
        covered: dict[str, int] = {}
        missing: dict[str, int] = {}
        for _, question, answer, grade in rows:
            verdicts = (
                grade.content(answer, question).verdicts
                if grade is not None and answer is not None
                else []
            )
            for verdict in verdicts:
                bucket = (
                    covered
                    if verdict["status"] == "covered"
                    else missing
                    if verdict["status"] == "missing"
                    else None
                )
                if bucket is not None:
                    bucket[verdict["key_point"]] = bucket.get(verdict["key_point"], 0) + 1
        revisit = [
            (question.bank_id, question.prompt)
            for turn, question in sorted(
                scored, key=lambda item: (item[0].score or 0, item[0].id or 0)
            )[:3]
        ]
        previous = [
            float(score)
            for score in (
                await session.execute(
                    sa.select(col(MockSession.overall_score))
                    .where(
                        col(MockSession.member_id) == mock.member_id,
                        col(MockSession.id) != mock.id,
                        col(MockSession.overall_score).is_not(None),
                    )
                    .order_by(col(MockSession.id).desc())
                    .limit(5)
                )
            ).scalars()
            if score is not None  # the query already skips NULL; this tells the type checker
        ][::-1]
        return MockReport(
            overall=overall,
            per_topic={topic: round(sum(s) / len(s), 1) for topic, s in sorted(per_topic.items())},
            strongest=[point for point, _ in sorted(covered.items(), key=lambda i: -i[1])[:3]],
            weakest=[point for point, _ in sorted(missing.items(), key=lambda i: -i[1])[:3]],
            revisit=revisit,
            previous=previous,
            follow_ups=sum(1 for turn, *_ in rows if turn.follow_up),
            answered=len(scored),
            skipped=skipped,
            transcript=transcript(mock, rows),
        )


def mock_target(workspace: Workspace, member: Member, mock: MockSession) -> Target:
    return Target(
        platform=workspace.platform,
        workspace_external_id=workspace.external_id,
        channel_external_id=mock.channel_external_id,
        member_external_id=member.external_id,
        reply_context=mock.reply_context,
    )


def transcript(mock: MockSession, rows: Sequence[Any]) -> str:
    """The whole interview as Markdown: questions, answers, grades and reference answers."""
    lines = [f"# Mock interview of {mock.started_at:%Y-%m-%d %H:%M} UTC", ""]
    for turn, question, answer, grade in rows:
        label = f"Question {turn.number}" + (" (follow-up)" if turn.follow_up else "")
        lines += [
            f"## {label} · {question.topic} · {turn.difficulty.value}",
            "",
            question.prompt,
            "",
        ]
        if answer is not None:  # skipped while its grade was waiting: the answer still shows
            lines += ["**Your answer**", "", quote_user_text(answer.text), ""]
        elif turn.status is TurnStatus.SKIPPED:
            lines += ["*Skipped.*", ""]
        if grade is not None and answer is not None:
            lines += [f"**Score: {grade.score}/100**", ""]
            for verdict in grade.content(answer, question).verdicts:
                mark = {"covered": "✅", "partial": "🟡", "missing": "❌"}[verdict["status"]]
                lines.append(f"- {mark} {verdict['key_point']}")
            lines.append("")
        lines += ["**Reference answer**", "", question.reference, ""]
    return "\n".join(lines)


def report_card(report: MockReport, *, attach: bool, ended: MockStatus | None = None) -> Card:
    heading = {
        MockStatus.STOPPED: "stopped early",
        MockStatus.EXPIRED: "ended after a long pause",
    }.get(ended or MockStatus.FINISHED, "finished")
    overall = f"{report.overall:.0f}/100" if report.overall is not None else "—"
    fields = [
        CardField(name="Overall", value=overall, inline=True),
        CardField(
            name="Answered",
            value=f"{report.answered} (skipped {report.skipped}, follow-ups {report.follow_ups})",
            inline=True,
        ),
    ]
    if report.per_topic:
        fields.append(
            CardField(
                name="Per topic",
                value="\n".join(
                    f"{topic}: {score:.0f}" for topic, score in report.per_topic.items()
                ),
            )
        )
    if report.strongest:
        fields.append(
            CardField(name="Strongest points", value="\n".join(f"✅ {p}" for p in report.strongest))
        )
    if report.weakest:
        fields.append(
            CardField(name="Weakest points", value="\n".join(f"❌ {p}" for p in report.weakest))
        )
    if report.revisit:
        fields.append(
            CardField(
                name="Revisit",
                value="\n".join(
                    f"{bank_id}: {shorten(prompt, 120)}" for bank_id, prompt in report.revisit
                ),
            )
        )
    if report.previous:
        trend = ", ".join(f"{score:.0f}" for score in report.previous)
        change = ""
        if report.overall is not None:
            delta = report.overall - report.previous[-1]
            change = f" → now {report.overall:.0f} ({delta:+.0f})"
        fields.append(CardField(name="Your previous interviews", value=trend + change))
    attachments: tuple[Attachment, ...] = ()
    if attach and report.transcript:
        attachments = (
            Attachment(
                filename="mock-interview.md",
                content_type="text/markdown",
                data=report.transcript.encode("utf-8"),
                description="The whole interview: questions, your answers, grades and references",
            ),
        )
    return Card(
        kind=CardKind.REPORT,
        title=f"📋 Mock interview {heading}",
        fields=tuple(fields),
        footer="The transcript with every question, answer and reference is attached.",
        private=True,
        attachments=attachments,
    )
