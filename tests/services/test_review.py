"""Spaced repetition from the grades: the rating mapping, due dates under a controlled clock,
practice drawing due questions first, weak topics preferred, opting out."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fsrs import Rating

from bot.services.answers import AnswerTarget
from bot.services.cards import CardKind
from bot.services.grading import GradingWorker
from bot.services.practice import PracticeService
from bot.services.review import SpacedRepetition, rating_for
from bot.storage.db import transaction
from bot.storage.models import DisabledQuestion, QuestionVersion, ReviewCard
from tests.fakes.graders import ScriptedGrader


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (0, Rating.Again),
        (39, Rating.Again),
        (40, Rating.Hard),
        (64, Rating.Hard),
        (65, Rating.Good),
        (84, Rating.Good),
        (85, Rating.Easy),
        (100, Rating.Easy),
    ],
)
def test_a_grade_maps_to_an_fsrs_rating(score, rating):
    assert rating_for(score) is rating


async def _practise(world, sessions, clock, bank_id: str, text: str) -> None:
    async with sessions() as session:
        question = (
            await session.execute(
                sa.select(QuestionVersion).where(QuestionVersion.bank_id == bank_id)
            )
        ).scalar_one()
    await world.answers.submit(world.alice, AnswerTarget.practice(question.id), text)
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()


async def test_a_weak_answer_comes_back_sooner_than_a_strong_one(world, sessions, clock):
    await _practise(world, sessions, clock, "cnn-a", "no idea")  # 0: Again
    await _practise(world, sessions, clock, "cnn-b", "gradients weights loss")  # 100: Easy
    async with sessions() as session:
        cards = {
            card.bank_id: card for card in (await session.execute(sa.select(ReviewCard))).scalars()
        }
    assert cards["cnn-a"].due - clock.now() == timedelta(days=1)
    assert cards["cnn-b"].due - clock.now() > timedelta(days=5)
    assert cards["cnn-a"].last_score == 0 and cards["cnn-b"].reviews == 1


async def test_practice_draws_due_questions_first_then_stops_when_none_is_due(
    world, sessions, clock
):
    review = SpacedRepetition(sessions, clock)
    practice = PracticeService(sessions, random.Random(1), review=review)
    await _practise(world, sessions, clock, "rnn-c", "no idea")
    assert (await review.state(world.alice.member_id)).due == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert (await review.state(world.alice.member_id)).due == 1
    due_only = await practice.next_question(world.alice.member_id, due_only=True)
    assert due_only.bank_id == "rnn-c"
    picks = [(await practice.next_question(world.alice.member_id)).bank_id for _ in range(40)]
    # mostly the due question, and about one draw in four still explores the rest of the bank
    assert 0.6 <= picks.count("rnn-c") / len(picks) <= 0.9
    await _practise(world, sessions, clock, "rnn-c", "gradients weights loss")
    assert (await review.state(world.alice.member_id)).due == 0
    assert (await practice.next_question(world.alice.member_id, due_only=True)).bank_id != "rnn-c"


async def test_weak_topics_are_preferred_among_new_questions(world, sessions, clock):
    review = SpacedRepetition(sessions, clock)
    await _practise(world, sessions, clock, "rnn-a", "no idea")  # rnn: weak
    await _practise(world, sessions, clock, "cnn-a", "gradients weights loss")  # cnn: strong
    assert await review.weakest_topics(world.alice.member_id) == ["rnn"]
    assert await review.weakest_topics(world.alice.member_id, below=101) == ["rnn", "cnn"]
    practice = PracticeService(sessions, random.Random(5), review=review)
    picks = [(await practice.next_question(world.alice.member_id)).topic for _ in range(40)]
    # rnn has two unanswered questions, cnn two: without the preference each would get half
    assert picks.count("rnn") / len(picks) >= 0.75
    assert "cnn" in picks  # never locked into one topic


async def test_opting_out_stops_recording_and_drawing(world, sessions, clock):
    review = SpacedRepetition(sessions, clock)
    await review.set_enabled(world.alice.member_id, False)
    await _practise(world, sessions, clock, "cnn-c", "no idea")
    async with sessions() as session:
        assert (await session.execute(sa.select(ReviewCard))).first() is None
    assert not (await review.state(world.alice.member_id)).enabled


async def test_a_due_question_taken_out_of_rotation_is_not_counted_as_due(
    world, sessions, clock, rng
):
    """An admin disabled a question the member had answered badly: ``review`` kept saying
    "1 question(s) due" every day and handed out another question in its name."""
    review = SpacedRepetition(sessions, clock)
    practice = PracticeService(sessions, rng, review=review)
    commands = world.commands(practice, review=review)
    await _practise(world, sessions, clock, "cnn-a", "no idea")  # Again: due in a day
    async with transaction(sessions) as session:
        session.add(
            DisabledQuestion(
                workspace_id=world.workspace_id,
                bank_id="cnn-a",
                reason="ambiguous",
                created_at=clock.now(),
            )
        )
    clock.advance(timedelta(days=1, minutes=1))
    [card] = (await commands.run_text(world.alice, "review")).cards
    assert card.kind is CardKind.NOTICE and "Nothing is due" in card.title
    await _practise(world, sessions, clock, "rnn-a", "no idea")
    clock.advance(timedelta(days=1, minutes=1))
    [card] = (await commands.run_text(world.alice, "review")).cards
    assert "Review: 1 question(s) due" in card.footer and "rnn-a" in card.body  # the due one
