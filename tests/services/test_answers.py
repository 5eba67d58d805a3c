"""Answer submission rules: validation, store-first, resubmission, late answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.services.answers import MAX_ANSWER_CHARS, AnswerRejected, RejectionReason
from bot.storage.models import Answer


async def _answers(sessions) -> list[Answer]:
    async with sessions() as session:
        return list((await session.execute(sa.select(Answer).order_by(Answer.id))).scalars())


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \n"])
async def test_blank_answers_are_refused_and_nothing_is_stored(world, sessions, text):
    opened = await world.daily.open_today(world.channel.id)
    with pytest.raises(AnswerRejected) as caught:
        await world.answers.submit_daily(world.alice.id, opened.post.id, text)
    assert caught.value.reason is RejectionReason.EMPTY
    assert await _answers(sessions) == []


async def test_oversized_answer_is_refused_with_the_limit_stated(world, sessions):
    opened = await world.daily.open_today(world.channel.id)
    with pytest.raises(AnswerRejected) as caught:
        await world.answers.submit_daily(
            world.alice.id, opened.post.id, "x" * (MAX_ANSWER_CHARS + 1)
        )
    assert caught.value.reason is RejectionReason.TOO_LONG
    assert str(MAX_ANSWER_CHARS) in caught.value.message
    assert await _answers(sessions) == []


async def test_answer_is_stored_verbatim_as_pending_before_the_grader_is_woken(world, sessions):
    opened = await world.daily.open_today(world.channel.id)
    seen_at_wake: list[list[Answer]] = []

    async def snapshot() -> None:
        seen_at_wake.append(await _answers(sessions))

    woken = []
    world.answers.set_wake_grader(lambda: woken.append(True))
    text = "  Backprop: gradients flow <b>backwards</b> @everyone\n\nsecond paragraph  "
    receipt = await world.answers.submit_daily(world.alice.id, opened.post.id, text)
    await snapshot()
    assert woken == [True]
    [stored] = seen_at_wake[0]
    assert stored.id == receipt.answer_id
    assert stored.text == text
    assert stored.status == "pending" and stored.scored


async def test_resubmission_before_close_replaces_the_earlier_answer(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    first = await world.answers.submit_daily(world.alice.id, opened.post.id, "first try")
    clock.advance(timedelta(minutes=5))
    second = await world.answers.submit_daily(world.alice.id, opened.post.id, "second try")
    assert not first.replaced_earlier and second.replaced_earlier
    rows = await _answers(sessions)
    assert [(row.text, row.superseded) for row in rows] == [
        ("first try", True),
        ("second try", False),
    ]


async def test_answer_after_close_is_practice_without_points(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    clock.set(opened.post.closes_at + timedelta(seconds=1))
    receipt = await world.answers.submit_daily(world.alice.id, opened.post.id, "late but keen")
    assert receipt.late and not receipt.scored
    [row] = await _answers(sessions)
    assert row.daily_post_id is None and not row.scored and row.question_id == opened.question.id


async def test_rubric_is_hidden_from_a_scored_answer_until_the_question_closes(world, clock):
    opened = await world.daily.open_today(world.channel.id)
    daily = await world.answers.submit_daily(world.alice.id, opened.post.id, "first go")
    practice = await world.answers.submit_practice(world.bob.id, opened.question.id, "practice")
    assert not (await world.answers.view(daily.answer_id)).rubric_revealed
    assert (await world.answers.view(practice.answer_id)).rubric_revealed
    clock.set(opened.post.closes_at)
    await world.daily.close_due()
    assert (await world.answers.view(daily.answer_id)).rubric_revealed
