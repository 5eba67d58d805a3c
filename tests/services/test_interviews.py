"""Mock interviews end to end through the services: adaptive difficulty, follow-ups graded
against the missed points, the report, resume after a restart, skip, stop, idle expiry, and no
points for interview answers."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.domain.bank import Difficulty, KeyPoint
from bot.grading.base import GradingItem, TransientGradingError
from bot.services.answers import AnswerTarget
from bot.services.cards import ButtonAction, CardKind
from bot.services.grading import GradingWorker
from bot.services.interviews import (
    InterviewError,
    MockInterviews,
    adapt,
    reweighted,
)
from bot.services.practice import PracticeService
from bot.services.review import SpacedRepetition
from bot.storage.db import transaction
from bot.storage.models import MockSession, MockStatus, MockTurn, QuestionVersion, ScoreEvent
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier

FULL = "gradients weights loss"  # 100 on the small bank
NONE = "no idea at all"  # 0
HALF = "gradients only"  # 40


class ScriptedFollowUps:
    """Writes a follow-up naming how many points were missed (records what it was given)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def write(self, item: GradingItem, answer: str, missed) -> str:
        self.calls.append((answer, tuple(point.text for point in missed)))
        return f"What else matters here? ({len(missed)} aspects left)"


def _interviews(world, sessions, clock, *, follow_ups: bool = False) -> MockInterviews:
    practice = PracticeService(sessions, random.Random(3), review=SpacedRepetition(sessions, clock))
    return MockInterviews(sessions, clock, practice, follow_ups=follow_ups, idle=timedelta(hours=1))


def _worker(sessions, clock, interviews, follow_ups=None) -> GradingWorker:
    grader = ScriptedGrader()
    return GradingWorker(
        sessions, grader, grader, clock, interviews=interviews, follow_ups=follow_ups
    )


async def _answer(world, worker, card, text):
    [answer_button] = [b for b in card.buttons if b.action is ButtonAction.ANSWER_MOCK]
    receipt = await world.answers.submit(
        world.alice, AnswerTarget.mock(int(answer_button.value)), text
    )
    await worker.drain()
    return receipt


async def _private_cards(world, notifier):
    await world.dispatcher({notifier.platform: notifier}).drain()
    return [delivery.card for delivery in notifier.deliveries]


def test_difficulty_goes_up_after_a_strong_answer_and_down_after_a_weak_one():
    assert adapt(Difficulty.INTERMEDIATE, 80) is Difficulty.ADVANCED
    assert adapt(Difficulty.ADVANCED, 90) is Difficulty.ADVANCED
    assert adapt(Difficulty.INTERMEDIATE, 30) is Difficulty.BEGINNER
    assert adapt(Difficulty.INTERMEDIATE, None) is Difficulty.BEGINNER  # skipped
    assert adapt(Difficulty.INTERMEDIATE, 60) is Difficulty.INTERMEDIATE


def test_missed_points_are_reweighted_to_ten():
    points = [KeyPoint(text="one missed point", weight=3), KeyPoint(text="another one", weight=4)]
    weights = [point.weight for point in reweighted(points)]
    assert sum(weights) == 10 and weights == [4, 6]


async def test_a_whole_interview_adapts_then_reports(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    worker = _worker(sessions, clock, interviews)
    notifier = RecordingNotifier()
    card = await interviews.start(world.alice, length=3)
    assert card.title == "🎤 Mock interview · Question 1 of 3" and card.private
    assert "intermediate" in card.fields[1].value
    await _answer(world, worker, card, FULL)  # strong: up to advanced
    grade, second = (await _private_cards(world, notifier))[-2:]
    assert grade.title == "Your grade: 100/100" and "mock interview: no points" in grade.footer
    assert (
        second.title == "🎤 Mock interview · Question 2 of 3"
        and "advanced" in second.fields[1].value
    )
    await _answer(world, worker, second, NONE)  # weak: down to intermediate
    third = (await _private_cards(world, notifier))[-1]
    assert "Question 3 of 3" in third.title and "intermediate" in third.fields[1].value
    await _answer(world, worker, third, HALF)
    report = (await _private_cards(world, notifier))[-1]
    assert report.kind is CardKind.REPORT and report.title == "📋 Mock interview finished"
    fields = {field.name: field.value for field in report.fields}
    assert fields["Overall"] == "47/100"  # (100 + 0 + 40) / 3
    assert "Revisit" in fields and fields["Revisit"].count("\n") == 2
    [transcript] = report.attachments
    text = transcript.data.decode()
    assert text.count("## Question") == 3 and "**Reference answer**" in text
    # each graded turn lists its key points from the grade's stored verdicts
    assert "- ✅ gradients flow backwards" in text and "- ❌" in text
    async with sessions() as session:
        assert (await session.execute(sa.select(ScoreEvent))).first() is None  # no farming


async def test_a_follow_up_probes_the_missed_points_once_and_is_graded_against_them(
    world, sessions, clock
):
    interviews = _interviews(world, sessions, clock, follow_ups=True)
    writer = ScriptedFollowUps()
    worker = _worker(sessions, clock, interviews, writer)
    notifier = RecordingNotifier()
    card = await interviews.start(world.alice, length=2)
    await _answer(world, worker, card, HALF)  # covers "gradients flow backwards" only
    follow_up = (await _private_cards(world, notifier))[-1]
    assert follow_up.title.endswith("Question 1 of 2 · follow-up")
    assert follow_up.body == "What else matters here? (2 aspects left)"
    assert writer.calls == [
        (HALF, ("weights update with the learning rate", "loss decreases over training"))
    ]
    await _answer(world, worker, follow_up, "weights update and loss falls")
    grade, nxt = (await _private_cards(world, notifier))[-2:]
    assert grade.title == "Your grade: 100/100"  # graded against the two missed points only
    assert len(grade.fields[0].value.splitlines()) >= 2
    assert "Question 2 of 2" in nxt.title and "follow-up" not in nxt.title
    assert len(writer.calls) == 1  # one follow-up per question, none for a follow-up


async def test_no_follow_up_without_an_llm(world, sessions, clock):
    interviews = _interviews(world, sessions, clock, follow_ups=False)
    worker = _worker(sessions, clock, interviews)
    notifier = RecordingNotifier()
    card = await interviews.start(world.alice, length=2)
    await _answer(world, worker, card, HALF)
    nxt = (await _private_cards(world, notifier))[-1]
    assert "Question 2 of 2" in nxt.title


async def test_a_restart_resumes_where_it_stopped_and_new_abandons(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    first = await interviews.start(world.alice, length=4)
    restarted = _interviews(world, sessions, clock)  # a new process on the same database
    resumed = await restarted.start(world.alice)
    assert resumed.body == first.body and "Resumed where you stopped" in resumed.footer
    fresh = await restarted.start(world.alice, new=True, length=2)
    assert "of 2" in fresh.title
    async with sessions() as session:
        statuses = sorted(
            s.status.value for s in (await session.execute(sa.select(MockSession))).scalars()
        )
    assert statuses == ["abandoned", "active"]


async def test_skip_moves_on_and_stop_ends_with_the_report(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    await interviews.start(world.alice, length=3)
    [nxt] = await interviews.skip(world.alice)
    assert "Question 2 of 3" in nxt.title
    [report] = await interviews.stop(world.alice)
    assert report.title == "📋 Mock interview stopped early"
    assert "skipped 1" in {f.name: f.value for f in report.fields}["Answered"]
    with pytest.raises(InterviewError, match="no interview in progress"):
        await interviews.skip(world.alice)
    again = await interviews.last_report(world.alice)
    assert again.title == report.title


async def test_an_answer_to_an_old_turn_is_refused(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    card = await interviews.start(world.alice, length=3)
    turn_id = int(card.buttons[0].value)
    await interviews.skip(world.alice)
    with pytest.raises(Exception, match="no longer waiting"):
        await world.answers.submit(world.alice, AnswerTarget.mock(turn_id), "late")
    with pytest.raises(Exception, match="no longer waiting"):
        await world.answers.submit(world.bob, AnswerTarget.mock(turn_id + 1), "not mine")


async def test_an_idle_interview_expires_once_with_a_summary(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    await interviews.start(world.alice, length=3)
    clock.advance(timedelta(minutes=59))
    assert await interviews.expire_idle() == 0
    clock.advance(timedelta(minutes=2))
    assert await interviews.expire_idle() == 1
    assert await interviews.expire_idle() == 0
    notifier = RecordingNotifier()
    [summary] = await _private_cards(world, notifier)
    assert summary.title == "📋 Mock interview ended after a long pause"
    async with sessions() as session:
        [mock] = (await session.execute(sa.select(MockSession))).scalars().all()
        turns = (await session.execute(sa.select(MockTurn))).scalars().all()
    assert mock.status is MockStatus.EXPIRED and len(turns) == 1


async def test_lengths_are_bounded(world, sessions, clock):
    interviews = _interviews(world, sessions, clock)
    with pytest.raises(InterviewError, match="1 to 10"):
        await interviews.start(world.alice, length=11)


async def test_the_next_question_waits_until_its_grade_was_delivered(world, sessions, clock):
    """A grade that fails to send holds the next question back, across batches and
    dispatchers: the member never sees question 2 before the grade of question 1."""
    from bot.services.delivery import RetryLater

    interviews = _interviews(world, sessions, clock)
    worker = _worker(sessions, clock, interviews)
    card = await interviews.start(world.alice, length=2)
    notifier = RecordingNotifier()
    notifier.topic_failures["grade"] = deque([RetryLater("busy", retry_after=30)])
    await _answer(world, worker, card, FULL)
    dispatcher = world.dispatcher({notifier.platform: notifier})
    await dispatcher.drain()
    assert notifier.failed_topics == ["grade"] and notifier.deliveries == []  # nothing yet
    clock.advance(timedelta(seconds=31))
    await dispatcher.drain()
    grade, second = [delivery.card for delivery in notifier.deliveries]
    assert grade.title.startswith("Your grade:") and "Question 2 of 2" in second.title


async def test_a_regraded_answer_updates_its_score_and_asks_nothing_more(world, sessions, clock):
    """An answer graded by the fallback while the LLM was down and re-graded later (``grades
    requeue``) while the interview is on its next question: the turn takes the new score, and
    the member gets no second "Question 2" (the interview had two turns numbered 2)."""

    async def no_sleep(_: float) -> None:
        return None

    interviews = _interviews(world, sessions, clock)
    llm = ScriptedGrader("llm", failures=[TransientGradingError("down")] * 2)
    worker = GradingWorker(
        sessions,
        llm,
        ScriptedGrader("offline"),
        clock,
        max_attempts=2,
        sleep=no_sleep,
        interviews=interviews,
    )
    notifier = RecordingNotifier()
    card = await interviews.start(world.alice, length=3)
    await _answer(world, worker, card, HALF)  # the LLM is down: a provisional grade
    grade, second = (await _private_cards(world, notifier))[-2:]
    assert "provisional" in (grade.footer + grade.title).lower()
    assert "Question 2 of 3" in second.title
    llm.failures.clear()
    assert await worker.requeue() == 1
    await worker.drain()
    regraded = (await _private_cards(world, notifier))[-1]
    assert regraded.title.startswith("Your grade:")  # the new grade, and nothing after it
    async with sessions() as session:
        turns = (await session.execute(sa.select(MockTurn).order_by(MockTurn.id))).scalars().all()
    assert [(turn.number, turn.status.value) for turn in turns] == [(1, "graded"), (2, "asked")]
    assert turns[0].score == 40
    [nxt] = await interviews.skip(world.alice)  # the interview goes on from question 2
    assert "Question 3 of 3" in nxt.title


async def test_a_double_click_on_skip_moves_on_once(world, sessions, clock):
    """Two Skip clicks at once (a double click, a retried request) on PostgreSQL each added a
    "Question 2": the interview had two turns numbered 2. One skip now wins, the other is
    refused."""
    interviews = _interviews(world, sessions, clock)
    await interviews.start(world.alice, length=4)
    for _ in range(3):  # the race is not won every time
        outcomes = await asyncio.gather(
            interviews.skip(world.alice), interviews.skip(world.alice), return_exceptions=True
        )
        [refused] = [outcome for outcome in outcomes if isinstance(outcome, InterviewError)]
        assert "the next one is on its way" in str(refused)  # not "being graded"
    async with sessions() as session:
        numbers = (await session.execute(sa.select(MockTurn.number))).scalars().all()
    assert sorted(numbers) == [1, 2, 3, 4]


async def test_stop_while_the_follow_up_is_written_ends_the_interview(world, sessions, clock):
    """The member pressed Stop while the LLM wrote a follow-up: after the report came the
    follow-up question, for an interview that had ended. Now only the grade follows."""
    interviews = _interviews(world, sessions, clock, follow_ups=True)

    class StopMeanwhile(ScriptedFollowUps):
        async def write(self, item: GradingItem, answer: str, missed) -> str:
            await interviews.stop(world.alice)
            return await super().write(item, answer, missed)

    worker = _worker(sessions, clock, interviews, StopMeanwhile())
    notifier = RecordingNotifier()
    card = await interviews.start(world.alice, length=2)
    await _answer(world, worker, card, HALF)
    cards = await _private_cards(world, notifier)
    assert [card.kind for card in cards] == [CardKind.GRADE]  # the report was Stop's reply
    async with sessions() as session:
        turns = (await session.execute(sa.select(MockTurn))).scalars().all()
    assert [(turn.status.value, turn.score) for turn in turns] == [("graded", 40)]


async def test_a_double_click_on_stop_reports_once(world, sessions, clock):
    """Two Stop clicks at once each sent the report (and its transcript) to the member."""
    interviews = _interviews(world, sessions, clock)
    await interviews.start(world.alice, length=4)
    outcomes = await asyncio.gather(
        interviews.stop(world.alice), interviews.stop(world.alice), return_exceptions=True
    )
    reports = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    assert len(reports) == 1 and reports[0][0].kind is CardKind.REPORT
    assert sum(isinstance(outcome, InterviewError) for outcome in outcomes) == 1


async def _waiting_for_the_llm(world, sessions, clock):
    """An interview whose first answer waits for the LLM: every question is LLM-only, the LLM is
    down and the offline grader declines them."""

    async def no_sleep(_: float) -> None:
        return None

    async with transaction(sessions) as session:
        await session.execute(sa.update(QuestionVersion).values(llm_only=True))
    practice = PracticeService(sessions, random.Random(3), llm_available=True)
    interviews = MockInterviews(sessions, clock, practice)
    llm = ScriptedGrader("llm", failures=[TransientGradingError("down")] * 2)
    offline = ScriptedGrader("offline", declines_llm_only=True)
    worker = GradingWorker(
        sessions, llm, offline, clock, max_attempts=2, sleep=no_sleep, interviews=interviews
    )
    card = await interviews.start(world.alice, length=3)
    await _answer(world, worker, card, HALF)  # waits for the LLM
    return interviews, worker


async def test_skip_moves_past_an_answer_that_waits_for_the_llm(world, sessions, clock):
    """An LLM-only question answered while the LLM is down waits for it (the offline grader
    cannot grade it): Skip used to be refused ("Your answer is being graded") until the LLM came
    back or the interview expired. Now it moves on, and the late grade still counts."""
    interviews, worker = await _waiting_for_the_llm(world, sessions, clock)
    notifier = RecordingNotifier()
    assert await _private_cards(world, notifier) == []
    [nxt] = await interviews.skip(world.alice)
    assert "Question 2 of 3" in nxt.title
    clock.advance(timedelta(minutes=11))  # the LLM is back
    await worker.drain()
    cards = await _private_cards(world, notifier)
    assert [card.kind for card in cards] == [CardKind.GRADE]  # no second "Question 2"
    [report] = await interviews.stop(world.alice)
    fields = {field.name: field.value for field in report.fields}
    assert fields["Answered"].startswith("1 (skipped 0")


async def test_the_transcript_keeps_an_answer_skipped_while_its_grade_waits(world, sessions, clock):
    interviews, _ = await _waiting_for_the_llm(world, sessions, clock)
    await interviews.skip(world.alice)
    [report] = await interviews.stop(world.alice)
    assert HALF in report.attachments[0].data.decode()


async def test_two_members_get_the_same_follow_up(world, sessions, clock):
    """The same follow-up text for the same missed points (the generic one, when the model's is
    refused; a deterministic model) made a second, equal question row: its unique key refused
    it, the grade could not be stored, and the answer was graded again and again."""
    interviews = _interviews(world, sessions, clock, follow_ups=True)
    worker = _worker(sessions, clock, interviews, ScriptedFollowUps())
    for member in (world.alice, world.bob):
        card = await interviews.start(member, topic="cnn", difficulty=Difficulty.BEGINNER)
        [answer_button] = [b for b in card.buttons if b.action is ButtonAction.ANSWER_MOCK]
        await world.answers.submit(member, AnswerTarget.mock(int(answer_button.value)), HALF)
        await worker.drain()
    notifier = RecordingNotifier()
    cards = await _private_cards(world, notifier)
    follow_ups = [card for card in cards if card.title.endswith("· follow-up")]
    assert len(follow_ups) == 2 and follow_ups[0].body == follow_ups[1].body
