"""Answer submission rules: validation, store-first, resubmission, late answers, the form that
says what a resubmission replaces, concurrent submissions, and other workspaces' posts."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot import metrics
from bot.domain.bank import Difficulty
from bot.services.answers import (
    MAX_ANSWER_CHARS,
    AnswerRejected,
    AnswerService,
    AnswerTarget,
    Receipt,
    ReceiptStatus,
    RejectionReason,
    live_scored_answers,
)
from bot.services.interviews import MockInterviews
from bot.services.practice import PracticeService
from bot.services.question_rows import question_row
from bot.services.review import SpacedRepetition
from bot.storage.db import transaction
from bot.storage.models import (
    Answer,
    AnswerKind,
    GradeRecord,
    MockSession,
    MockTurn,
    Platform,
    TurnStatus,
)
from tests.world import make_question


def _received(kind: str) -> float:
    """The intake's counter of stored answers of one kind (metrics are process-wide)."""
    value = metrics.REGISTRY.get_sample_value("interview_answers_received_total", {"kind": kind})
    return value or 0.0


async def _answers(sessions) -> list[Answer]:
    async with sessions() as session:
        return list((await session.execute(sa.select(Answer).order_by(Answer.id))).scalars())


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \n"])
async def test_blank_answers_are_refused_and_nothing_is_stored(world, sessions, text):
    opened = await world.open()
    with pytest.raises(AnswerRejected) as caught:
        await world.submit(world.alice, opened, text)
    assert caught.value.reason is RejectionReason.EMPTY
    assert await _answers(sessions) == []


async def test_an_answer_of_exactly_the_limit_is_stored_and_one_more_is_refused(world, sessions):
    opened = await world.open()
    with pytest.raises(AnswerRejected) as caught:
        await world.submit(world.alice, opened, "x" * (MAX_ANSWER_CHARS + 1))
    assert caught.value.reason is RejectionReason.TOO_LONG
    assert str(MAX_ANSWER_CHARS) in caught.value.message
    assert await _answers(sessions) == []
    await world.submit(world.alice, opened, "y" * MAX_ANSWER_CHARS)
    [row] = await _answers(sessions)
    assert len(row.text) == MAX_ANSWER_CHARS


async def test_answer_is_stored_verbatim_as_pending_before_the_grader_is_woken(world, sessions):
    opened = await world.open()
    seen_at_wake: list[list[Answer]] = []
    woken = asyncio.Event()

    def wake() -> None:
        woken.set()

    world.answers.set_wake_grader(wake)
    text = "  Backprop: gradients flow <b>backwards</b> @everyone\n\nsecond paragraph  "
    receipt = await world.submit(world.alice, opened, text)
    await asyncio.wait_for(woken.wait(), 5)
    seen_at_wake.append(await _answers(sessions))
    [stored] = seen_at_wake[0]
    assert stored.id == receipt.answer_id
    assert stored.text == text
    assert stored.status == "pending" and stored.scored and stored.kind is AnswerKind.DAILY


async def test_resubmission_before_close_replaces_the_earlier_answer(world, sessions, clock):
    opened = await world.open()
    first = await world.submit(world.alice, opened, "first try")
    clock.advance(timedelta(minutes=5))
    second = await world.submit(world.alice, opened, "second try")
    assert not first.replaced_earlier and second.replaced_earlier
    rows = await _answers(sessions)
    assert [(row.text, row.superseded) for row in rows] == [
        ("first try", True),
        ("second try", False),
    ]


async def test_the_form_says_what_a_resubmission_replaces_with_time_and_score(
    world, sessions, clock
):
    opened = await world.open()
    target = AnswerTarget.daily(opened.post.id)
    form = await world.answers.form(world.alice, target)
    assert form.previous is None and "improve it" in form.note
    receipt = await world.submit(world.alice, opened, "first try")
    async with sessions() as session, session.begin():
        grade = GradeRecord(
            answer_id=receipt.answer_id, grader="t", score=72, created_at=clock.now()
        )
        session.add(grade)
        await session.flush()
        answer = await session.get(Answer, receipt.answer_id)
        answer.current_grade_id = grade.id
    form = await world.answers.form(world.alice, target)
    # submitted at 08:00 UTC = 09:00 in the channel's Berlin time
    assert form.note.startswith("This replaces your answer of 09:00, score 72/100")
    assert form.previous is not None and form.previous.score == 72


async def test_answer_after_close_is_practice_without_points(world, sessions, clock):
    opened = await world.open()
    clock.set(opened.post.closes_at)  # the exact closing instant is already late
    form = await world.answers.form(world.alice, AnswerTarget.daily(opened.post.id))
    assert "closed" in form.note
    receipt = await world.submit(world.alice, opened, "late but keen")
    assert receipt.late and not receipt.scored
    [row] = await _answers(sessions)
    assert row.daily_post_id == opened.post.id and not row.scored
    assert row.question_id == opened.question.id


async def test_one_instant_before_close_still_scores(world, clock):
    opened = await world.open()
    clock.set(opened.post.closes_at - timedelta(microseconds=1))
    receipt = await world.submit(world.alice, opened, "just in time")
    assert receipt.scored and not receipt.late


async def test_rubric_is_hidden_from_a_scored_answer_until_the_question_closes(world, clock):
    opened = await world.open()
    daily = await world.submit(world.alice, opened, "first go")
    practice = await world.answers.submit(
        world.bob, AnswerTarget.practice(opened.question.id), "practice"
    )
    assert not (await world.answers.view(daily.answer_id)).rubric_revealed
    assert (await world.answers.view(practice.answer_id)).rubric_revealed
    clock.set(opened.post.closes_at)
    await world.daily.close_due()
    assert (await world.answers.view(daily.answer_id)).rubric_revealed


async def test_concurrent_submissions_are_stored_in_few_transactions_and_each_once(world, sessions):
    opened = await world.open()
    members = [await world.actor(f"U{index}", f"Member {index}") for index in range(100, 160)]
    batches_before = world.answers.batches
    receipts = await asyncio.gather(
        *(world.submit(member, opened, f"answer {index}") for index, member in enumerate(members))
    )
    assert len({receipt.answer_id for receipt in receipts}) == len(members)
    assert world.answers.batches - batches_before < len(members) / 4
    rows = await _answers(sessions)
    assert sorted(row.text for row in rows) == sorted(f"answer {i}" for i in range(len(members)))


async def test_two_answers_from_one_member_at_the_same_instant_leave_one_live(world, sessions):
    opened = await world.open()
    # two processes: two intakes writing at once
    other_process = AnswerService(sessions, world.clock)
    try:
        results = await asyncio.gather(
            world.submit(world.alice, opened, "from process one"),
            other_process.submit(world.alice, AnswerTarget.daily(opened.post.id), "from two"),
            world.submit(world.alice, opened, "from process one again"),
        )
    finally:
        await other_process.close()
    assert sum(receipt.replaced_earlier for receipt in results) == 2
    rows = await _answers(sessions)
    assert len(rows) == 3 and sum(not row.superseded for row in rows) == 1


async def test_a_large_batch_split_into_parallel_transactions_keeps_each_members_order(
    world, sessions
):
    """With ``parallel_batches`` (PostgreSQL's setting), a large batch is written as several
    transactions at once: every answer is stored once, each member's last answer is the live
    one, and the receipts say which answers replaced an earlier one."""
    opened = await world.open()
    members = [await world.actor(f"UP{index}", f"Member {index}") for index in range(40)]
    target = AnswerTarget.daily(opened.post.id)
    intake = AnswerService(sessions, world.clock, parallel_batches=2)
    try:
        # the first half answered once before; now everyone answers twice in one burst
        await asyncio.gather(*(intake.submit(m, target, "before") for m in members[:20]))
        batches_before = intake.batches
        receipts = await asyncio.gather(
            *(intake.submit(m, target, f"{m.member_id} first") for m in members),
            *(intake.submit(m, target, f"{m.member_id} second") for m in members),
        )
    finally:
        await intake.close()
    assert intake.batches - batches_before == 2  # 80 answers, two transactions
    assert all(receipt.replaced_earlier for receipt in receipts[40:])
    firsts = receipts[:40]
    assert [receipt.replaced_earlier for receipt in firsts] == [True] * 20 + [False] * 20
    rows = await _answers(sessions)
    assert len(rows) == 100 and len({row.id for row in rows}) == 100
    live = {row.member_id: row.text for row in rows if not row.superseded}
    assert live == {m.member_id: f"{m.member_id} second" for m in members}


@pytest.mark.parametrize(
    ("parallel", "answers", "transactions"),
    [(1, 80, 1), (2, 63, 1), (2, 64, 2)],
    ids=["one-writer-keeps-one", "below-the-split-size", "at-the-split-size"],
)
async def test_a_batch_is_split_only_when_parallel_and_large_enough(
    world, sessions, parallel, answers, transactions
):
    """SQLite's default writes a whole batch in one transaction; with ``parallel_batches`` a
    batch is split from PARALLEL_MIN_BATCH (64) submissions on."""
    opened = await world.open()
    members = [await world.actor(f"US{index}", f"Member {index}") for index in range(answers)]
    target = AnswerTarget.daily(opened.post.id)
    intake = (
        AnswerService(sessions, world.clock)
        if parallel == 1
        else AnswerService(sessions, world.clock, parallel_batches=parallel)
    )
    try:
        receipts = await asyncio.gather(*(intake.submit(m, target, "burst") for m in members))
    finally:
        await intake.close()
    assert intake.batches == transactions
    assert len({receipt.answer_id for receipt in receipts}) == answers


async def test_a_batch_replacing_a_stored_answer_tells_its_first_answer_so_too(world, sessions):
    """Stored first: one answer from another process. Then two answers of the same member in
    one batch: the first replaces the stored one, the second replaces the first; both say so."""
    opened = await world.open()
    other_process = AnswerService(sessions, world.clock)
    try:
        stored = await other_process.submit(
            world.alice, AnswerTarget.daily(opened.post.id), "from two"
        )
    finally:
        await other_process.close()
    batches_before = world.answers.batches
    first, second = await asyncio.gather(
        world.submit(world.alice, opened, "from process one"),
        world.submit(world.alice, opened, "from process one again"),
    )
    assert world.answers.batches == batches_before + 1  # one batch held both
    assert not stored.replaced_earlier
    assert first.replaced_earlier and second.replaced_earlier
    rows = await _answers(sessions)
    assert [row.text for row in rows if not row.superseded] == ["from process one again"]


async def test_another_workspaces_post_is_refused_like_an_unknown_one(world, sessions):
    opened = await world.open()
    stranger = await world.directory.resolve(
        Platform.DISCORD, "G9", "U9", channel_external_id="C9", member_name="Mallory"
    )
    with pytest.raises(AnswerRejected) as caught:
        await world.answers.submit(stranger, AnswerTarget.daily(opened.post.id), "sneaky")
    assert caught.value.reason is RejectionReason.UNKNOWN_QUESTION
    with pytest.raises(AnswerRejected):
        await world.answers.form(stranger, AnswerTarget.daily(opened.post.id))
    with pytest.raises(AnswerRejected):
        await world.answers.submit(world.alice, AnswerTarget.daily(999_999), "nowhere")
    assert await _answers(sessions) == []


def test_targets_round_trip_and_garbage_is_an_unknown_question():
    target = AnswerTarget.practice(42)
    assert AnswerTarget.decode(target.encode()) == target
    with pytest.raises(AnswerRejected):
        AnswerTarget.decode("bogus:x")


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)  # SQLite's planner needs it
async def test_the_supersede_lookup_searches_the_post_index(sessions, engine, db_backend):
    """A batch's resubmission check must not scan every answer (a million on a busy team)."""
    statement = sa.select(Answer.id).where(live_scored_answers({(1, 2), (1, 3), (2, 2)}))
    compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        plan = " | ".join(
            str(row[-1])
            for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        )
    assert "SCAN answer" not in plan and "daily_post" in plan, plan


def test_the_supersede_lookup_tests_each_post_s_members_as_one_list():
    """500 resubmissions to one post are one ``member_id IN`` list, not 500 OR-ed row values
    (PostgreSQL took 8-20 ms to plan those at a million answers, and tested them row by row)."""
    from sqlalchemy.dialects import postgresql

    pairs = {(7, member) for member in range(500)} | {(8, 3), (8, 4)}
    sql = str(
        sa.select(Answer.id)
        .where(live_scored_answers(pairs))
        .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    assert sql.count("answer.member_id IN") == 2
    assert "(answer.daily_post_id, answer.member_id)" not in sql
    assert sql.count(" OR ") == 1  # one branch per post
    assert "answer.daily_post_id = 7" in sql and "answer.daily_post_id = 8" in sql


async def test_receipts_say_scored_then_replaced_then_late_and_a_late_answer_replaces_nothing(
    world, sessions, clock
):
    opened = await world.open()
    first = await world.submit(world.alice, opened, "first try")
    assert first.status is ReceiptStatus.SCORED and "being graded" in first.message
    second = await world.submit(world.alice, opened, "second try")
    assert second.status is ReceiptStatus.REPLACED and second.scored
    assert "replaces your earlier answer" in second.message
    clock.set(opened.post.closes_at)  # the closing instant: late
    third = await world.submit(world.alice, opened, "third try")
    assert third.status is ReceiptStatus.LATE and third.late and not third.replaced_earlier
    assert "practice (no points)" in third.message
    rows = await _answers(sessions)
    assert [(row.text, row.scored, row.superseded) for row in rows] == [
        ("first try", True, True),
        ("second try", True, False),  # still the live, scored answer
        ("third try", False, False),
    ]
    bob_late = await world.submit(world.bob, opened, "only after the close")
    assert bob_late.status is ReceiptStatus.LATE and not bob_late.scored


async def test_an_unknown_or_foreign_target_is_refused_with_one_plain_message(world):
    opened = await world.open()
    stranger = await world.directory.resolve(
        Platform.DISCORD, "G9", "U9", channel_external_id="C9", member_name="Mallory"
    )
    refusals = []
    for decode in ("bogus:1", "daily:x", "daily"):
        with pytest.raises(AnswerRejected) as caught:
            AnswerTarget.decode(decode)
        refusals.append(caught.value)
    with pytest.raises(AnswerRejected) as caught:
        await world.answers.form(stranger, AnswerTarget.daily(opened.post.id))
    refusals.append(caught.value)
    with pytest.raises(AnswerRejected) as caught:
        await world.answers.submit(world.alice, AnswerTarget.practice(999_999), "nowhere")
    refusals.append(caught.value)
    assert [(refusal.reason, refusal.message) for refusal in refusals] == [
        (RejectionReason.UNKNOWN_QUESTION, "That question does not exist.")
    ] * len(refusals)


async def test_the_daily_form_shows_the_posts_question_and_says_what_sending_does(
    world, sessions, clock
):
    opened = await world.open()
    target = AnswerTarget.daily(opened.post.id)
    form = await world.answers.form(world.alice, target)
    assert (form.target, form.title, form.prompt, form.label, form.previous) == (
        target,
        "Today's question",
        opened.question.prompt,
        "Your answer",
        None,
    )
    assert form.note == "Only you see your answer. You may improve it until the question closes."
    await world.submit(world.bob, opened, "bob's answer")  # another member's answer
    assert (await world.answers.form(world.alice, target)).previous is None
    clock.advance(timedelta(minutes=30))
    await world.submit(world.alice, opened, "ungraded yet")
    form = await world.answers.form(world.alice, target)
    # no grade yet: the note names the time only (08:30 UTC = 09:30 in Berlin)
    assert form.note == "This replaces your answer of 09:30: only the new one counts."
    clock.set(opened.post.closes_at)
    closed = await world.answers.form(world.alice, target)
    assert (
        closed.note == "This question has closed: your answer is graded for practice (no points)."
    )
    assert closed.prompt == opened.question.prompt


async def test_the_previous_answer_is_the_members_live_scored_one_to_that_post(
    world, sessions, clock
):
    yesterday = await world.open()
    await world.submit(world.alice, yesterday, "yesterday's answer")
    clock.advance(timedelta(days=1))
    today = await world.open()
    assert today.post.id != yesterday.post.id
    # an answer to another post is not a previous answer to this one
    assert await world.answers.previous_answer(world.alice.member_id, today.post.id) is None
    first = await world.submit(world.alice, today, "first try")
    clock.advance(timedelta(minutes=10))
    second_at = clock.now()
    second = await world.submit(world.alice, today, "second try")
    async with sessions() as session, session.begin():
        # two grades of the live answer (say a regrade); the current one is the later
        old = GradeRecord(answer_id=second.answer_id, grader="t", score=40, created_at=second_at)
        new = GradeRecord(answer_id=second.answer_id, grader="t", score=90, created_at=second_at)
        session.add_all([old, new])
        await session.flush()
        (await session.get(Answer, second.answer_id)).current_grade_id = new.id
        (await session.get(Answer, first.answer_id)).current_grade_id = old.id
    previous = await world.answers.previous_answer(world.alice.member_id, today.post.id)
    assert previous is not None
    assert (previous.submitted_at, previous.score) == (second_at, 90)
    # a late answer is never a previous answer: it replaced nothing and will not be replaced
    clock.set(today.post.closes_at)
    await world.submit(world.bob, today, "late")
    assert await world.answers.previous_answer(world.bob.member_id, today.post.id) is None


async def test_the_live_scored_answers_exclude_replaced_and_late_ones(world, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, "first try")
    await world.submit(world.alice, opened, "second try")
    clock.set(opened.post.closes_at)
    await world.submit(world.alice, opened, "late try")
    await world.submit(world.bob, opened, "bob late")
    pairs = {(opened.post.id, world.alice.member_id), (opened.post.id, world.bob.member_id)}
    async with sessions() as session:
        texts = await session.execute(sa.select(Answer.text).where(live_scored_answers(pairs)))
        assert list(texts.scalars()) == ["second try"]


async def test_the_answer_view_carries_its_question_current_grade_and_open_state(
    world, sessions, clock
):
    opened = await world.open()
    receipt = await world.submit(world.alice, opened, "an answer")
    view = await world.answers.view(receipt.answer_id)
    assert view.grade is None and view.post_open
    assert view.question.id == opened.question.id
    async with sessions() as session, session.begin():
        old = GradeRecord(answer_id=receipt.answer_id, grader="t", score=35, created_at=clock.now())
        new = GradeRecord(answer_id=receipt.answer_id, grader="t", score=80, created_at=clock.now())
        session.add_all([old, new])
        await session.flush()
        (await session.get(Answer, receipt.answer_id)).current_grade_id = new.id
    view = await world.answers.view(receipt.answer_id)
    assert view.grade is not None and view.grade.score == 80
    assert view.question.prompt == opened.question.prompt
    # at the closing instant the post counts as closed even before the closing job ran
    clock.set(opened.post.closes_at)
    view = await world.answers.view(receipt.answer_id)
    assert not view.post_open and view.rubric_revealed
    with pytest.raises(KeyError) as missing:
        await world.answers.view(999_999)
    assert missing.value.args == (999_999,)  # the error names the answer it did not find


async def test_the_intake_takes_answers_again_after_it_was_closed(world, sessions):
    opened = await world.open()
    await world.submit(world.alice, opened, "before close")
    # the writer is a named task, so a task dump (or the loop-lag monitor) says what it is
    assert "answer-intake" in {task.get_name() for task in asyncio.all_tasks()}
    await world.answers.close()
    receipt = await world.submit(world.bob, opened, "after close")
    assert receipt.scored
    assert [row.text for row in await _answers(sessions)] == ["before close", "after close"]


async def test_a_mock_interview_answer_is_stored_unscored_and_answers_its_turn_once(
    world, sessions, clock
):
    practice = PracticeService(sessions, random.Random(3), review=SpacedRepetition(sessions, clock))
    interviews = MockInterviews(sessions, clock, practice, idle=timedelta(hours=1))
    card = await interviews.start(world.alice, length=3)
    turn_id = int(card.buttons[0].value)
    target = AnswerTarget.mock(turn_id)
    form = await world.answers.form(world.alice, target)
    assert (form.title, form.note) == (
        "Question 1 of 3",
        "Mock interview: graded privately, no points.",
    )
    with pytest.raises(AnswerRejected):
        await world.answers.form(world.bob, target)  # another member's interview
    clock.advance(timedelta(minutes=3))
    first, second = await asyncio.gather(
        world.answers.submit(world.alice, target, "my interview answer"),
        world.answers.submit(world.alice, target, "the same turn again"),
        return_exceptions=True,
    )
    assert isinstance(first, Receipt) and first.status is ReceiptStatus.MOCK
    assert not first.scored and "next question" in first.message
    assert isinstance(second, AnswerRejected)  # one answer per turn, even within one batch
    [row] = await _answers(sessions)
    assert (row.kind, row.scored, row.daily_post_id) == (AnswerKind.MOCK, False, None)
    async with sessions() as session:
        turn = await session.get(MockTurn, turn_id)
        assert turn.status is TurnStatus.ANSWERED and turn.answer_id == first.answer_id
        assert row.question_id == turn.question_id
        mock = await session.get(MockSession, turn.session_id)
        assert mock.last_activity_at == clock.now()
    with pytest.raises(AnswerRejected):
        await world.answers.submit(world.alice, target, "once more")  # answered already


async def test_a_workspaces_own_questions_take_practice_answers_from_that_workspace_only(
    world, sessions, clock
):
    own = make_question("team-only", "platform", Difficulty.BEGINNER)
    rows = [
        question_row(own, clock, scope="slack:T1"),
        question_row(own, clock, scope="oneoff:slack:T1"),
        question_row(own, clock, scope="discord:G9"),
    ]
    async with transaction(sessions) as session:
        session.add_all(rows)
    stranger = await world.directory.resolve(
        Platform.DISCORD, "G8", "U8", channel_external_id="C8", member_name="Mallory"
    )
    for row in rows[:2]:
        target = AnswerTarget.practice(row.id)
        assert (await world.answers.form(world.alice, target)).title == "Practice question"
        receipt = await world.answers.submit(world.alice, target, "team answer")
        assert receipt.status is ReceiptStatus.PRACTICE
        with pytest.raises(AnswerRejected):
            await world.answers.form(stranger, target)
        with pytest.raises(AnswerRejected):
            await world.answers.submit(stranger, target, "not my team")
    other_team = AnswerTarget.practice(rows[2].id)
    with pytest.raises(AnswerRejected):
        await world.answers.submit(world.alice, other_team, "not my team either")
    assert len(await _answers(sessions)) == 2


async def test_only_a_practice_answer_makes_the_intake_read_workspace_scopes(world, engine, clock):
    """A batch of daily answers needs no workspace row (the scopes decide practice answers
    only): one query less on every daily submission."""
    opened = await world.open()
    practice = make_question("scoped", "platform", Difficulty.BEGINNER)
    async with transaction(world.answers._sessions) as session:
        row = question_row(practice, clock, scope="slack:T1")
        session.add(row)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await asyncio.gather(
            world.submit(world.alice, opened, "daily one"),
            world.submit(world.bob, opened, "daily two"),
        )
        daily_statements = list(statements)
        statements.clear()
        receipt = await world.answers.submit(world.alice, AnswerTarget.practice(row.id), "practice")
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert receipt.status is ReceiptStatus.PRACTICE
    assert any("INSERT INTO answer" in s for s in daily_statements)
    assert not any("FROM workspace" in s for s in daily_statements)
    assert any("FROM workspace" in s for s in statements)


async def test_a_refused_answer_does_not_stop_the_rest_of_its_batch(world, sessions):
    opened = await world.open()
    await world.submit(world.alice, opened, "an earlier batch")
    batches_before = world.answers.batches
    assert batches_before == 1
    received_before = _received("daily")
    no_question, no_post, stored = await asyncio.gather(
        world.answers.submit(world.alice, AnswerTarget.practice(999_999), "no such question"),
        world.answers.submit(world.alice, AnswerTarget.daily(999_999), "nowhere"),
        world.submit(world.bob, opened, "a real answer"),
        return_exceptions=True,
    )
    assert isinstance(no_question, AnswerRejected) and isinstance(no_post, AnswerRejected)
    assert stored.status is ReceiptStatus.SCORED
    assert world.answers.batches == batches_before + 1  # one transaction, not a retry
    assert [row.text for row in await _answers(sessions)] == ["an earlier batch", "a real answer"]
    assert _received("daily") == received_before + 1  # refused answers are not counted


async def test_a_stored_answer_keeps_its_reply_context_and_a_replaced_one_its_replacement_time(
    world, sessions, clock
):
    opened = await world.open()
    submitted_at = clock.now()
    where = {"channel": "C1", "thread_ts": "1700000000.000100"}
    first = await world.answers.submit(
        world.alice, AnswerTarget.daily(opened.post.id), "first", reply_context=where
    )
    [row] = await _answers(sessions)
    assert (row.reply_context, row.attempts, row.status) == (where, 0, "pending")
    assert row.submitted_at == row.updated_at == submitted_at
    clock.advance(timedelta(minutes=7))
    await world.submit(world.alice, opened, "second")
    replaced, live = await _answers(sessions)
    assert replaced.id == first.answer_id and replaced.superseded
    assert replaced.submitted_at == submitted_at  # when it was sent
    assert replaced.updated_at == clock.now()  # when it was replaced
    assert live.reply_context == {}
