"""Contesting a grade and flagging a question; what admins do about them, audited.

- A member disputes one of their graded answers with a reason (one dispute per answer): the
  answer is graded again with the reason as extra context — data for the grader, behind every
  injection defence, never instructions — and the member sees the new grade with two buttons:
  accept it, or send it to an admin.
- A member reports a question as wrong or unclear.
- Admins list the open disputes and reports, override a score (a new grade row; the points are
  recomputed through the same score upsert) or take a question out of their workspace's rotation.
  Every admin change is written to the audit log: who, when, why, the old and the new value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.services.cards import Card, CardField, CardKind, notice_card, quote_user_text
from bot.services.channels import NotAllowed
from bot.services.delivery import Target, enqueue
from bot.services.directory import Actor
from bot.services.scoring import award_points
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import (
    Answer,
    AnswerStatus,
    AuditEntry,
    Channel,
    DailyPost,
    DeliveryAction,
    DisabledQuestion,
    Dispute,
    DisputeStatus,
    GradeRecord,
    Member,
    QuestionReport,
    QuestionVersion,
    Workspace,
)

MAX_REASON = 1000


class DisputeRefused(ValueError):
    """A dispute, report or admin action that cannot be done; the message is for the member."""


@dataclass(frozen=True)
class OpenItems:
    disputes: list[tuple[Dispute, str, str]]  # dispute, member name, question id
    reports: list[tuple[QuestionReport, str]]  # report, member name


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise DisputeRefused("Say why, in a sentence or two.")
    if len(reason) > MAX_REASON:
        raise DisputeRefused(f"Keep the reason under {MAX_REASON} characters.")
    return reason


class Disputes:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        wake_grader: Callable[[], None] = lambda: None,
        after_commit: Callable[[], None] = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._wake_grader = wake_grader
        self._after_commit = after_commit

    async def dispute(
        self,
        actor: Actor,
        answer_id: int,
        reason: str,
        *,
        reply_context: Mapping[str, Any] | None = None,
    ) -> Card:
        """Contest a graded answer of one's own; it is graded again with the reason.
        ``reply_context``: where the member disputed (a fresh interaction token, a channel); the
        new grade goes there rather than to the answer's own, long expired, context."""
        reason = _reason(reason)
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    sa.select(Answer, GradeRecord)
                    .outerjoin(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                    .where(col(Answer.id) == answer_id)
                )
            ).first()
            if row is None or row[0].member_id != actor.member_id:
                raise DisputeRefused("That is not one of your answers.")
            answer, grade = row
            earlier = await session.execute(
                sa.select(col(Dispute.id)).where(col(Dispute.answer_id) == answer_id)
            )
            if earlier.first() is not None:
                raise DisputeRefused("You already disputed this answer (one dispute per answer).")
            if answer.status is not AnswerStatus.GRADED or grade is None:
                raise DisputeRefused("That answer has not been graded yet.")
            created = await session.execute(
                insert_ignore(session, Dispute)
                .values(
                    answer_id=answer_id,
                    member_id=actor.member_id,
                    workspace_id=actor.workspace_id,
                    reason=reason,
                    status=DisputeStatus.REGRADING,
                    original_score=grade.score,
                    resolution="",
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(Dispute.id))
            )
            if created.scalar_one_or_none() is None:
                raise DisputeRefused("You already disputed this answer (one dispute per answer).")
            answer.status, answer.claim_token, answer.attempts = AnswerStatus.PENDING, None, 0
            answer.retry_at, answer.updated_at = None, now
            if reply_context:
                answer.reply_context = dict(reply_context)
            session.add(answer)
        self._wake_grader()
        return notice_card(
            "📝 Dispute received",
            "Your answer is being graded again with your reason; the new grade comes to you "
            "privately. If you still disagree then, you can send it to an admin.",
        )

    async def open_dispute(self, session: AsyncSession, answer_id: int) -> Dispute | None:
        """The dispute being re-graded for this answer, if any (the grading worker asks)."""
        return (
            await session.execute(
                sa.select(Dispute).where(
                    col(Dispute.answer_id) == answer_id,
                    col(Dispute.status) == DisputeStatus.REGRADING,
                )
            )
        ).scalar_one_or_none()

    async def _own_dispute(self, session: AsyncSession, actor: Actor, dispute_id: int) -> Dispute:
        dispute = await session.get(Dispute, dispute_id)
        if dispute is None or dispute.member_id != actor.member_id:
            raise DisputeRefused("That is not one of your disputes.")
        if dispute.status is not DisputeStatus.REGRADED:
            raise DisputeRefused("That dispute is not waiting for your answer.")
        return dispute

    async def accept(self, actor: Actor, dispute_id: int) -> Card:
        async with transaction(self._sessions) as session:
            dispute = await self._own_dispute(session, actor, dispute_id)
            dispute.status, dispute.resolution = DisputeStatus.RESOLVED, "accepted by the member"
            dispute.updated_at = self._clock.now()
            session.add(dispute)
        return notice_card("👍 Thanks — the new grade stands.")

    async def escalate(self, actor: Actor, dispute_id: int) -> Card:
        async with transaction(self._sessions) as session:
            dispute = await self._own_dispute(session, actor, dispute_id)
            dispute.status, dispute.updated_at = DisputeStatus.ESCALATED, self._clock.now()
            session.add(dispute)
        return notice_card(
            "📨 Sent to an admin", "An admin of your workspace will look at the grade."
        )

    async def report_question(self, actor: Actor, bank_id: str, reason: str) -> Card:
        reason = _reason(reason)
        async with transaction(self._sessions) as session:
            exists = (
                await session.execute(
                    sa.select(col(QuestionVersion.id))
                    .where(col(QuestionVersion.bank_id) == bank_id)
                    .limit(1)
                )
            ).first()
            if exists is None:
                raise DisputeRefused(f"There is no question '{bank_id}'.")
            session.add(
                QuestionReport(
                    workspace_id=actor.workspace_id,
                    member_id=actor.member_id,
                    bank_id=bank_id,
                    reason=reason,
                    open=True,
                    created_at=self._clock.now(),
                )
            )
        return notice_card("🚩 Thanks — the question is reported to your admins.")

    # --- admins ----------------------------------------------------------------------------

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if not actor.is_admin:
            raise NotAllowed("Only workspace admins can do that.")

    async def open_items(self, actor: Actor) -> OpenItems:
        self._require_admin(actor)
        async with self._sessions() as session:
            disputes = (
                await session.execute(
                    sa.select(Dispute, col(Member.display_name), col(QuestionVersion.bank_id))
                    .join(Member, col(Member.id) == Dispute.member_id)
                    .join(Answer, col(Answer.id) == Dispute.answer_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
                    .where(
                        col(Dispute.workspace_id) == actor.workspace_id,
                        col(Dispute.status) == DisputeStatus.ESCALATED,
                    )
                    .order_by(col(Dispute.id))
                )
            ).all()
            reports = (
                await session.execute(
                    sa.select(QuestionReport, col(Member.display_name))
                    .join(Member, col(Member.id) == QuestionReport.member_id)
                    .where(
                        col(QuestionReport.workspace_id) == actor.workspace_id,
                        col(QuestionReport.open).is_(True),
                    )
                    .order_by(col(QuestionReport.id))
                )
            ).all()
        return OpenItems(
            disputes=[(d, name, bank_id) for d, name, bank_id in disputes],
            reports=[(r, name) for r, name in reports],
        )

    async def override(self, actor: Actor, answer_id: int, score: int, reason: str) -> Card:
        """Set an answer's score (a new grade row); points recomputed; audited; member told."""
        self._require_admin(actor)
        reason = _reason(reason)
        if not 0 <= score <= 100:
            raise DisputeRefused("A score is between 0 and 100.")
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            row = (
                await session.execute(
                    sa.select(Answer, Member, Workspace, QuestionVersion, GradeRecord)
                    .join(Member, col(Member.id) == Answer.member_id)
                    .join(Workspace, col(Workspace.id) == Member.workspace_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
                    .outerjoin(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
                    .where(col(Answer.id) == answer_id)
                )
            ).first()
            if row is None or row[2].id != actor.workspace_id:
                raise DisputeRefused("There is no such answer in your workspace.")
            answer, member, workspace, question, current = row
            old = current.score if current is not None else None
            record = GradeRecord(
                answer_id=answer_id,
                grader="admin",
                model=actor.member_external_id,
                score=score,
                factual_errors=[],
                flags=["overridden"],
                provisional=False,
                created_at=now,
            ).with_content(
                current.content(answer, question).verdicts if current is not None else [],
                f"An admin set this score: {reason}",
                answer,
                question,
            )
            session.add(record)
            await session.flush()
            answer.current_grade_id, answer.status, answer.updated_at = (
                record.id,
                AnswerStatus.GRADED,
                now,
            )
            session.add(answer)
            post = (
                await session.get(DailyPost, answer.daily_post_id) if answer.daily_post_id else None
            )
            channel = await session.get(Channel, post.channel_id) if post is not None else None
            points = await award_points(
                session,
                answer=answer,
                score=score,
                question=question,
                member=member,
                workspace=workspace,
                post=post,
                channel=channel,
            )
            await session.execute(
                sa.update(Dispute)
                .where(col(Dispute.answer_id) == answer_id)
                .values(status=DisputeStatus.RESOLVED, resolution=reason[:500], updated_at=now)
            )
            self._audit(session, actor, "override", f"answer:{answer_id}", old, score, reason, now)
            enqueue(
                session,
                Target(
                    platform=workspace.platform,
                    workspace_external_id=workspace.external_id,
                    channel_external_id=(answer.reply_context or {}).get("channel")
                    or (channel.external_id if channel else None),
                    member_external_id=member.external_id,
                    reply_context=answer.reply_context,
                ),
                notice_card(
                    f"🧑‍⚖️ An admin set your grade to {score}/100",
                    f"Reason: {reason}" + (f"\nPoints: {points}" if points is not None else ""),
                ),
                action=DeliveryAction.PRIVATE,
                topic="override",
                now=now,
            )
        self._after_commit()
        change = f"{old}/100 → {score}/100" if old is not None else f"{score}/100"
        return notice_card(f"✅ Answer {answer_id}: {change}", "Points recomputed; audited.")

    async def disable_question(self, actor: Actor, bank_id: str, reason: str) -> Card:
        """Take a question out of this workspace's rotation (daily, practice, mock)."""
        self._require_admin(actor)
        reason = _reason(reason)
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            exists = (
                await session.execute(
                    sa.select(col(QuestionVersion.id))
                    .where(col(QuestionVersion.bank_id) == bank_id)
                    .limit(1)
                )
            ).first()
            if exists is None:
                raise DisputeRefused(f"There is no question '{bank_id}'.")
            await session.execute(
                insert_ignore(session, DisabledQuestion)
                .values(
                    workspace_id=actor.workspace_id, bank_id=bank_id, reason=reason, created_at=now
                )
                .on_conflict_do_nothing()
            )
            await session.execute(
                sa.update(QuestionReport)
                .where(
                    col(QuestionReport.workspace_id) == actor.workspace_id,
                    col(QuestionReport.bank_id) == bank_id,
                )
                .values(open=False)
            )
            self._audit(
                session, actor, "disable", f"question:{bank_id}", "active", "disabled", reason, now
            )
        return notice_card(f"⛔ {bank_id} is out of this workspace's rotation", "Audited.")

    @staticmethod
    def _audit(
        session: AsyncSession,
        actor: Actor,
        action: str,
        target: str,
        old: object,
        new: object,
        reason: str,
        now: datetime,
    ) -> None:
        session.add(
            AuditEntry(
                workspace_id=actor.workspace_id,
                actor_external_id=actor.member_external_id,
                action=action,
                target=target,
                old_value="" if old is None else str(old),
                new_value="" if new is None else str(new),
                reason=reason[:500],
                created_at=now,
            )
        )

    async def audit_log(self, actor: Actor, limit: int = 20) -> list[AuditEntry]:
        self._require_admin(actor)
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(AuditEntry)
                .where(col(AuditEntry.workspace_id) == actor.workspace_id)
                .order_by(col(AuditEntry.id).desc())
                .limit(limit)
            )
            return list(rows.scalars())


def open_items_card(items: OpenItems) -> Card:
    disputes = "\n".join(
        f"#{dispute.id} answer {dispute.answer_id} ({bank_id}) by {name}: "
        f"{dispute.original_score}→{dispute.regraded_score} — {dispute.reason[:150]}"
        for dispute, name, bank_id in items.disputes
    )
    reports = "\n".join(
        f"{report.bank_id} by {name}: {report.reason[:150]}" for report, name in items.reports
    )
    return Card(
        kind=CardKind.REPORT,
        title="🗂️ Open disputes and question reports",
        fields=(
            CardField(name="Disputes sent to admins", value=quote_user_text(disputes) or "none"),
            CardField(name="Reported questions", value=quote_user_text(reports) or "none"),
        ),
        footer="admin override <answer> <score> <reason> · admin disable <question> <reason>",
        private=True,
    )
