"""Practice questions: the member's least-answered questions first, filters honoured."""

from __future__ import annotations

from bot.services.practice import PracticeService


async def test_practice_prefers_questions_the_member_has_not_answered(world, sessions, rng):
    practice = PracticeService(sessions, rng)
    seen = set()
    for _ in range(6):
        question = await practice.next_question(world.alice.id)
        assert question.bank_id not in seen
        seen.add(question.bank_id)
        await world.answers.submit_practice(world.alice.id, question.id, "an attempt")
    assert len(seen) == 6  # every question once before any repeats


async def test_practice_honours_topics_and_exclusions(world, sessions, rng):
    practice = PracticeService(sessions, rng)
    question = await practice.next_question(
        world.alice.id, topics=["rnn"], exclude_bank_ids=["rnn-a", "rnn-b"]
    )
    assert question.bank_id == "rnn-c"
    assert await practice.next_question(world.alice.id, topics=["no-such-topic"]) is None
