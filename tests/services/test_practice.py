"""Practice questions: the member's least-answered questions first, filters honoured, the
workspace's own questions only in that workspace, LLM-only questions only with an LLM."""

from __future__ import annotations

from bot.domain.bank import Bank, Difficulty, Track
from bot.services.answers import AnswerTarget
from bot.services.practice import PracticeService
from bot.services.question_rows import ScopedBank, sync_bank
from tests.world import SMALL_BANK, make_question


async def test_practice_prefers_questions_the_member_has_not_answered(world, sessions, rng):
    practice = PracticeService(sessions, rng)
    seen = set()
    for _ in range(6):
        question = await practice.next_question(world.alice.member_id)
        assert question.bank_id not in seen
        seen.add(question.bank_id)
        await world.answers.submit(world.alice, AnswerTarget.practice(question.id), "an attempt")
    assert len(seen) == 6  # every question once before any repeats


async def test_practice_honours_topics_difficulty_and_exclusions(world, sessions, rng):
    practice = PracticeService(sessions, rng)
    question = await practice.next_question(
        world.alice.member_id, topics=["rnn"], exclude_bank_ids=["rnn-a", "rnn-b"]
    )
    assert question.bank_id == "rnn-c"
    hard = await practice.next_question(world.alice.member_id, difficulty=Difficulty.ADVANCED)
    assert hard.bank_id in {"cnn-c", "rnn-c"}
    assert await practice.next_question(world.alice.member_id, topics=["no-such-topic"]) is None


async def test_a_workspaces_own_questions_stay_in_that_workspace(world, sessions, clock, rng):
    own = make_question("team-only", "platform", Difficulty.BEGINNER)
    await sync_bank(sessions, ScopedBank({"": SMALL_BANK, "slack:T1": Bank((own,))}), clock)
    practice = PracticeService(sessions, rng)
    mine = await practice.next_question(
        world.alice.member_id, scope="slack:T1", topics=["platform"]
    )
    assert mine is not None and mine.bank_id == "team-only"
    theirs = await practice.next_question(
        world.alice.member_id, scope="discord:G2", topics=["platform"]
    )
    assert theirs is None
    catalogue = await practice.catalogue("discord:G2")
    assert "platform" not in catalogue[Track.DEEP_LEARNING]


async def test_llm_only_questions_are_offered_only_when_an_llm_grades(world, sessions, clock, rng):
    story = make_question("story", "behavioural", Difficulty.BEGINNER).model_copy(
        update={"track": Track.BEHAVIOURAL, "llm_only": True}
    )
    await sync_bank(sessions, Bank((*SMALL_BANK.questions, story)), clock)
    offline_only = PracticeService(sessions, rng, llm_available=False)
    assert await offline_only.next_question(world.alice.member_id, track=Track.BEHAVIOURAL) is None
    with_llm = PracticeService(sessions, rng, llm_available=True)
    assert (await with_llm.next_question(world.alice.member_id, track=Track.BEHAVIOURAL)).llm_only
