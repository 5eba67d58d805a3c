"""Contesting a grade (one dispute per answer, re-graded with the reason, then accept or send to
an admin), reporting a question, and audited admin overrides and removals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.services.channels import NotAllowed
from bot.services.disputes import DisputeRefused, Disputes
from bot.services.grading import GradingWorker
from bot.services.leaderboard import Period
from bot.storage.models import (
    Answer,
    AuditEntry,
    Dispute,
    DisputeStatus,
    GradeRecord,
    QuestionVersion,
)
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier


class ReasonAwareGrader(ScriptedGrader):
    """Scripted, but records the dispute reason it was given."""

    def __init__(self) -> None:
        super().__init__("llm")
        self.reasons: list[str] = []

    async def grade(self, item, answer):
        self.reasons.append(item.dispute_reason)
        return await super().grade(item, answer)


async def _graded(world, sessions, clock, text: str = "gradients only"):
    opened = await world.open()
    receipt = await world.submit(world.alice, opened, text)
    grader = ReasonAwareGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    await worker.drain()
    return receipt.answer_id, grader, worker


async def test_a_dispute_regrades_with_the_reason_once_and_can_be_escalated(world, sessions, clock):
    answer_id, grader, worker = await _graded(world, sessions, clock)
    disputes = Disputes(sessions, clock)
    card = await disputes.dispute(world.alice, answer_id, "I did explain weight updates")
    assert "graded again" in card.body
    with pytest.raises(DisputeRefused, match="one dispute per answer"):
        await disputes.dispute(world.alice, answer_id, "again")
    await worker.drain()
    assert grader.reasons == ["", "I did explain weight updates"]
    [dispute] = await _rows(sessions, Dispute)
    assert dispute.status is DisputeStatus.REGRADED and dispute.regraded_score == 40
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    regraded = notifier.deliveries[-1].card
    assert regraded.title.startswith("Your grade after your dispute")
    assert [b.action.value for b in regraded.buttons] == ["dispute-accept", "dispute-escalate"]
    await disputes.escalate(world.alice, dispute.id)
    items = await disputes.open_items(world.admin)
    assert [item.id for item, _, _ in items.disputes] == [dispute.id]
    with pytest.raises(NotAllowed):
        await disputes.open_items(world.alice)


async def test_the_new_grade_goes_where_the_member_disputed(world, sessions, clock):
    answer_id, _, worker = await _graded(world, sessions, clock)
    disputes = Disputes(sessions, clock)
    where = {"channel": "C-dispute", "interaction_token": "fresh"}
    await disputes.dispute(world.alice, answer_id, "I did explain it", reply_context=where)
    await worker.drain()
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    regraded = notifier.deliveries[-1]
    assert regraded.card.title.startswith("Your grade after your dispute")
    assert regraded.reply_context == where and regraded.channel_external_id == "C-dispute"


async def test_only_ones_own_graded_answers_can_be_disputed(world, sessions, clock):
    answer_id, _, _ = await _graded(world, sessions, clock)
    disputes = Disputes(sessions, clock)
    with pytest.raises(DisputeRefused, match="not one of your answers"):
        await disputes.dispute(world.bob, answer_id, "not mine")
    with pytest.raises(DisputeRefused, match="Say why"):
        await disputes.dispute(world.alice, answer_id, "   ")


async def test_an_override_recomputes_the_leaderboard_and_leaves_an_audit_row(
    world, sessions, clock
):
    answer_id, _, _ = await _graded(world, sessions, clock)  # 40 on a beginner question: 4 pts
    before = await world.leaderboards.leaderboard(world.workspace_id, Period.ALL)
    assert [(row.display_name, row.points) for row in before] == [("Alice", 4)]
    disputes = Disputes(sessions, clock)
    with pytest.raises(NotAllowed):
        await disputes.override(world.alice, answer_id, 100, "I am great")
    clock.advance(timedelta(minutes=5))
    card = await disputes.override(world.admin, answer_id, 90, "the rubric missed a synonym")
    assert "40/100 → 90/100" in card.title
    after = await world.leaderboards.leaderboard(world.workspace_id, Period.ALL)
    assert [(row.display_name, row.points) for row in after] == [("Alice", 9)]
    # the override's grade keeps the grader's verdicts and says why, read back from its body
    async with sessions() as session:
        answer = await session.get(Answer, answer_id)
        question = await session.get(QuestionVersion, answer.question_id)
        graded, overridden = (
            await session.execute(
                sa.select(GradeRecord)
                .where(col(GradeRecord.answer_id) == answer_id)
                .order_by(col(GradeRecord.id))
            )
        ).scalars()
        assert answer.current_grade_id == overridden.id and overridden.score == 90
        first, second = graded.content(answer, question), overridden.content(answer, question)
        assert second.verdicts == first.verdicts
        assert [verdict["status"] for verdict in first.verdicts] == [
            "covered",
            "missing",
            "missing",
        ]
        assert first.feedback == "scripted"
        assert second.feedback == "An admin set this score: the rubric missed a synonym"
    [entry] = await _rows(sessions, AuditEntry)
    assert (entry.actor_external_id, entry.action, entry.target) == (
        "UADMIN",
        "override",
        f"answer:{answer_id}",
    )
    assert (entry.old_value, entry.new_value, entry.reason) == (
        "40",
        "90",
        "the rubric missed a synonym",
    )
    assert entry.created_at == clock.now()
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    assert notifier.of("override")[0].card.title == "🧑‍⚖️ An admin set your grade to 90/100"


async def test_a_reported_then_disabled_question_leaves_the_rotation(world, sessions, clock):
    disputes = Disputes(sessions, clock)
    await disputes.report_question(world.alice, "cnn-a", "the reference is wrong about pooling")
    items = await disputes.open_items(world.admin)
    assert [report.bank_id for report, _ in items.reports] == ["cnn-a"]
    await disputes.disable_question(world.admin, "cnn-a", "wrong reference")
    assert (await disputes.open_items(world.admin)).reports == []
    seen = set()
    for _ in range(6):
        seen.add((await world.open()).question.bank_id)
        clock.advance(timedelta(days=1))
    assert "cnn-a" not in seen and len(seen) == 5
    with pytest.raises(DisputeRefused, match="no question"):
        await disputes.report_question(world.alice, "nope", "x")


async def _rows(sessions, model):
    async with sessions() as session:
        return list((await session.execute(sa.select(model))).scalars())
