"""The grading worker: retries, provisional fallback, crash recovery, exactly-once points, the
result card in the outbox, claims bounded by free slots, the dead letter, LLM-only questions."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from bot.domain.bank import Bank, Difficulty
from bot.grading.base import grade_to_dict
from bot.services.grading import GradingWorker, grading_item
from bot.services.question_rows import sync_bank
from bot.storage.models import Answer, DeliveryAction, GradeRecord, ScoreEvent
from tests.fakes.graders import RequestLimitedGrader, ScriptedGrader, permanent, transient
from tests.fakes.notifier import RecordingNotifier
from tests.world import SMALL_BANK, make_question

GOOD = "gradients flow backwards, weights update, loss decreases"


def _item(question):
    return grading_item(question)


async def no_sleep(_: float) -> None:
    return None


async def _rows(sessions, model):
    async with sessions() as session:
        return list((await session.execute(sa.select(model))).scalars())


async def test_graded_answer_gets_a_grade_points_and_a_private_result_card(world, sessions, clock):
    opened = await world.open()
    receipt = await world.submit(world.alice, opened, GOOD)
    worker = GradingWorker(sessions, ScriptedGrader(), ScriptedGrader("offline"), clock)
    assert await worker.drain() == 1
    view = await world.answers.view(receipt.answer_id)
    assert view.answer.status == "graded" and view.grade.score == 100
    # what the grader said reads back from the stored body, against the answer and question
    said = grade_to_dict(await ScriptedGrader().grade(_item(view.question), GOOD))
    content = view.grade.content(view.answer, view.question)
    assert (content.verdicts, content.feedback) == (said["verdicts"], said["feedback"])
    assert len(content.verdicts) == 3 and view.grade.body
    expected_points = {"beginner": 10, "intermediate": 20, "advanced": 30}[
        opened.question.difficulty
    ]
    [event] = await _rows(sessions, ScoreEvent)
    assert event.points == expected_points and event.answer_id == receipt.answer_id
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [result] = notifier.of("grade")
    assert result.action is DeliveryAction.PRIVATE
    assert (result.member_external_id, result.channel_external_id) == ("U1", "C1")
    assert result.card.private and result.card.title == "Your grade: 100/100"
    assert f"+{expected_points} points" in result.card.footer


async def test_a_grade_before_close_hides_missing_points_and_after_close_shows_them(
    world, sessions, clock
):
    opened = await world.open()
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    await world.submit(world.alice, opened, "gradients only")
    await worker.drain()
    clock.set(opened.post.closes_at + timedelta(minutes=1))
    await world.submit(world.bob, opened, "gradients only")  # late: practice, all revealed
    await worker.drain()
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    early, late = (delivery.card.as_text() for delivery in notifier.of("grade"))
    assert "weights update" not in early and "2 more key point(s) not covered yet" in early
    assert "weights update" in late and "Reference answer" in late
    assert "after the close: no points" in late


async def _until_all_graded(sessions) -> None:
    """Wait (up to 4 s) until every stored answer is graded."""
    for _ in range(200):
        if all(a.status == "graded" for a in await _rows(sessions, Answer)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("answers still ungraded after 4 s")


async def _six_answers_and_a_closed_gate(world) -> tuple[list, ScriptedGrader]:
    """Six members answered today's post; a grader that waits until its gate opens."""
    opened = await world.open()
    members = [await world.actor(f"U{index}", f"M{index}") for index in range(10, 16)]
    for member in members:
        await world.submit(member, opened, GOOD)
    gate = ScriptedGrader("slow")
    gate.gate = asyncio.Event()
    return members, gate


async def test_claims_take_only_the_free_slots(world, sessions, clock):
    members, gate = await _six_answers_and_a_closed_gate(world)
    worker = GradingWorker(sessions, gate, gate, clock, concurrency=2)
    await worker.start()
    await asyncio.wait_for(gate.entered.wait(), 5)
    answers = await _rows(sessions, Answer)
    assert sorted(answer.status.value for answer in answers).count("grading") == 2
    gate.gate.set()
    await _until_all_graded(sessions)
    await worker.stop()
    assert all(answer.attempts == 1 for answer in await _rows(sessions, Answer))
    assert len(await _rows(sessions, GradeRecord)) == len(members)


async def test_prefetched_answers_wait_for_a_grader_slot(world, sessions, clock):
    """``prefetch`` answers are claimed beyond the grader slots; the grader never has more than
    ``concurrency`` calls at once, and every answer is graded once."""
    members, gate = await _six_answers_and_a_closed_gate(world)
    worker = GradingWorker(sessions, gate, gate, clock, concurrency=2, prefetch=2)
    await worker.start()
    await asyncio.wait_for(gate.entered.wait(), 5)
    for _ in range(250):  # the second slot's call (never a third: max_in_flight below)
        if len(gate.calls) == 2:
            break
        await asyncio.sleep(0.02)
    statuses = sorted(answer.status.value for answer in await _rows(sessions, Answer))
    assert statuses.count("grading") == 4 and len(gate.calls) == 2
    gate.gate.set()
    await _until_all_graded(sessions)
    await worker.stop()
    assert gate.max_in_flight == 2 and len(gate.calls) == len(members)
    assert all(answer.attempts == 1 for answer in await _rows(sessions, Answer))
    assert len(await _rows(sessions, GradeRecord)) == len(members)


async def test_a_grader_that_limits_its_own_calls_holds_a_slot_only_for_the_call(
    world, sessions, clock
):
    """The LLM grader takes the worker's slot only around its request: a prefetched answer is
    screened (here: enters ``grade``) while every slot is taken, but never calls out."""
    members, _ = await _six_answers_and_a_closed_gate(world)
    grader = RequestLimitedGrader()
    grader.gate = asyncio.Event()
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=2, prefetch=2)
    assert grader.request_slots is not None
    await worker.start()
    try:
        for _ in range(100):
            if len(grader.calls) == 4:
                break
            await asyncio.sleep(0.02)
        assert len(grader.calls) == 4 and grader.in_call == 2  # two wait for a slot
        grader.gate.set()
        await _until_all_graded(sessions)
    finally:
        grader.gate.set()
        await worker.stop()
    assert grader.max_in_call == 2 and len(grader.calls) == len(members)
    assert len(await _rows(sessions, GradeRecord)) == len(members)


async def test_a_freed_grader_slot_starts_the_next_answer_while_the_last_grade_is_stored(
    world, sessions, clock, monkeypatch
):
    import bot.services.grading as grading

    opened = await world.open()
    first = await world.submit(world.alice, opened, GOOD)
    await world.submit(world.bob, opened, GOOD)
    storing = asyncio.Event()
    release = asyncio.Event()
    real_award = grading.award_points

    async def slow_award(*args, **kwargs):
        if kwargs["answer"].id == first.answer_id:
            storing.set()
            await release.wait()
        return await real_award(*args, **kwargs)

    monkeypatch.setattr(grading, "award_points", slow_award)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=1, prefetch=1)
    await worker.start()
    try:
        await asyncio.wait_for(storing.wait(), 5)
        for _ in range(100):  # the second answer is graded while the first is being stored
            if len(grader.calls) == 2:
                break
            await asyncio.sleep(0.02)
        assert len(grader.calls) == 2
        release.set()
        await _until_all_graded(sessions)
    finally:
        release.set()
        await worker.stop()
    assert grader.max_in_flight == 1
    assert len(await _rows(sessions, GradeRecord)) == 2


async def test_an_answer_claimed_too_often_is_set_aside_and_the_member_told(world, sessions, clock):
    opened = await world.open()
    receipt = await world.submit(world.alice, opened, GOOD)
    async with sessions() as session, session.begin():
        answer = await session.get(Answer, receipt.answer_id)
        answer.attempts = 5  # five earlier claims died (a crash loop)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock, max_claims=5)
    await worker.drain()
    assert grader.calls == []
    [failed] = await worker.failed()
    assert failed.id == receipt.answer_id and "too many" in failed.last_error
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [told] = notifier.of("grade")
    assert "could not be graded" in told.card.title
    assert await worker.requeue() == 1
    await worker.drain()
    assert (await world.answers.view(receipt.answer_id)).grade.score == 100


async def test_transient_errors_are_retried_with_backoff(world, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, GOOD)
    delays: list[float] = []

    async def record_sleep(seconds: float) -> None:
        delays.append(seconds)

    llm = ScriptedGrader("llm", failures=transient(2))
    worker = GradingWorker(
        sessions, llm, ScriptedGrader("offline"), clock, sleep=record_sleep, max_attempts=4
    )
    await worker.drain()
    [grade] = await _rows(sessions, GradeRecord)
    assert grade.grader == "llm" and not grade.provisional
    assert len(llm.calls) == 3 and len(delays) == 2 and delays[1] > delays[0] * 0.6


async def test_llm_outage_falls_back_to_provisional_offline_grade_then_regrade_replaces_points(
    world, sessions, clock
):
    opened = await world.open()
    receipt = await world.submit(world.alice, opened, GOOD)
    down = ScriptedGrader("llm", failures=transient(10))
    offline = ScriptedGrader("offline")
    worker = GradingWorker(sessions, down, offline, clock, sleep=no_sleep, max_attempts=3)
    await worker.drain()
    view = await world.answers.view(receipt.answer_id)
    assert view.grade.grader == "offline" and view.grade.provisional
    assert len(down.calls) == 3
    # the LLM is back: provisional grades are re-graded; points are replaced, not added
    up = ScriptedGrader("llm")
    worker2 = GradingWorker(sessions, up, offline, clock, sleep=no_sleep)
    assert await worker2.requeue() == 1
    await worker2.drain()
    view = await world.answers.view(receipt.answer_id)
    assert view.grade.grader == "llm" and not view.grade.provisional
    assert len(await _rows(sessions, GradeRecord)) == 2
    assert len(await _rows(sessions, ScoreEvent)) == 1


async def test_permanent_error_goes_straight_to_the_fallback(world, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, GOOD)
    llm = ScriptedGrader("llm", failures=permanent())
    worker = GradingWorker(sessions, llm, ScriptedGrader("offline"), clock, sleep=no_sleep)
    await worker.drain()
    assert len(llm.calls) == 1
    [grade] = await _rows(sessions, GradeRecord)
    assert grade.provisional and grade.grader == "offline"


async def test_resubmission_points_replace_earlier_points(world, sessions, clock):
    opened = await world.open()
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    await world.submit(world.alice, opened, "gradients only")
    await worker.drain()
    clock.advance(timedelta(minutes=10))
    second = await world.submit(world.alice, opened, GOOD)
    await worker.drain()
    [event] = await _rows(sessions, ScoreEvent)
    assert event.answer_id == second.answer_id
    assert (
        event.points
        == {"beginner": 10, "intermediate": 20, "advanced": 30}[opened.question.difficulty]
    )


async def test_superseded_answer_graded_last_earns_nothing(world, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, GOOD)
    second = await world.submit(world.alice, opened, "gradients only")
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    [event] = await _rows(sessions, ScoreEvent)
    assert event.answer_id == second.answer_id


async def test_a_grade_that_cannot_be_stored_is_graded_again_soon_and_counted_once(
    world, sessions, clock, monkeypatch
):
    import bot.services.grading as grading

    opened = await world.open()
    await world.submit(world.alice, opened, GOOD)
    real_award = grading.award_points
    failures = [RuntimeError("database went away")]

    async def flaky_award(*args, **kwargs):
        if failures:
            raise failures.pop()
        return await real_award(*args, **kwargs)

    monkeypatch.setattr(grading, "award_points", flaky_award)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    assert await worker.drain() == 1
    [answer] = await _rows(sessions, Answer)
    assert answer.status == "pending" and answer.last_error == "store failed: RuntimeError"
    assert await _rows(sessions, GradeRecord) == [] and await _rows(sessions, ScoreEvent) == []
    assert await worker.drain() == 0  # not before its retry time
    clock.advance(grading.STORE_RETRY + timedelta(seconds=1))
    assert await worker.drain() == 1
    assert len(await _rows(sessions, GradeRecord)) == 1
    assert len(await _rows(sessions, ScoreEvent)) == 1


async def test_worker_killed_mid_grading_and_restarted_grades_each_answer_exactly_once(
    world, sessions, clock
):
    opened = await world.open()
    for member in (world.alice, world.bob):
        await world.submit(member, opened, GOOD)
    stuck = ScriptedGrader("llm")
    stuck.gate = asyncio.Event()  # never opened: the worker hangs inside the LLM call
    doomed = GradingWorker(sessions, stuck, stuck, clock, lease=timedelta(minutes=5))
    await doomed.start()
    await asyncio.wait_for(stuck.entered.wait(), 5)
    await doomed.stop()  # the "kill": cancelled mid-grading, claims left behind
    answers = await _rows(sessions, Answer)
    assert {answer.status for answer in answers} == {"grading"}

    fresh = ScriptedGrader("llm")
    restarted = GradingWorker(sessions, fresh, fresh, clock, lease=timedelta(minutes=5))
    assert await restarted.drain() == 0  # leases still valid: nobody steals in-flight work
    clock.advance(timedelta(minutes=6))
    assert await restarted.drain() == 2
    # the dead worker's late write is refused: its claim token is no longer current
    assert await restarted.drain() == 0
    assert len(await _rows(sessions, GradeRecord)) == 2
    assert len(await _rows(sessions, ScoreEvent)) == 2
    assert {answer.status for answer in await _rows(sessions, Answer)} == {"graded"}


async def test_stale_worker_cannot_store_after_its_lease_was_taken(world, sessions, clock):
    opened = await world.open()
    await world.submit(world.alice, opened, GOOD)
    slow = ScriptedGrader("slow")
    slow.gate = asyncio.Event()
    slow_worker = GradingWorker(sessions, slow, slow, clock, lease=timedelta(minutes=5))
    slow_run = asyncio.create_task(slow_worker.run_once())
    await asyncio.wait_for(slow.entered.wait(), 5)
    clock.advance(timedelta(minutes=6))
    fast = ScriptedGrader("fast")
    await GradingWorker(sessions, fast, fast, clock).drain()
    slow.gate.set()
    await slow_run
    grades = await _rows(sessions, GradeRecord)
    assert [grade.grader for grade in grades] == ["fast"]
    assert len(await _rows(sessions, ScoreEvent)) == 1


async def _llm_only_post(world, sessions, clock):
    story = make_question("behavioural-story", "behavioural", Difficulty.INTERMEDIATE)
    story = story.model_copy(update={"track": "behavioural", "llm_only": True})
    await sync_bank(sessions, Bank((*SMALL_BANK.questions, story)), clock)
    await world.channels.queue_bank_question(world.admin, world.channel_id, "behavioural-story")
    return await world.open()


async def test_an_llm_only_question_with_no_llm_at_all_fails_with_a_clear_message(
    world, sessions, clock
):
    opened = await _llm_only_post(world, sessions, clock)
    receipt = await world.submit(world.alice, opened, "I once led a project...")
    offline = ScriptedGrader("offline", declines_llm_only=True)
    await GradingWorker(sessions, offline, offline, clock).drain()
    view = await world.answers.view(receipt.answer_id)
    assert view.answer.status == "failed" and view.grade is None
    notifier = RecordingNotifier()
    await world.dispatcher({notifier.platform: notifier}).drain()
    [told] = notifier.of("grade")
    assert "needs an LLM" in told.card.body


async def test_an_llm_only_question_waits_for_the_llm_instead_of_a_provisional_grade(
    world, sessions, clock
):
    opened = await _llm_only_post(world, sessions, clock)
    receipt = await world.submit(world.alice, opened, "I once led a project...")
    down = ScriptedGrader("llm", failures=transient(10))
    offline = ScriptedGrader("offline", declines_llm_only=True)
    worker = GradingWorker(sessions, down, offline, clock, sleep=no_sleep, max_attempts=2)
    await worker.drain()
    view = await world.answers.view(receipt.answer_id)
    assert view.answer.status == "pending" and view.answer.retry_at > clock.now()
    assert await worker.drain() == 0  # not before its retry time
    clock.advance(timedelta(minutes=11))
    up = ScriptedGrader("llm")
    await GradingWorker(sessions, up, offline, clock, sleep=no_sleep).drain()
    view = await world.answers.view(receipt.answer_id)
    assert view.grade.grader == "llm" and not view.grade.provisional


@contextlib.contextmanager
def _committed_work(engine):
    """Per committed transaction during the block, how many claims and grade inserts it held."""
    committed: list[Counter[str]] = []
    current: Counter[str] = Counter()

    def on_statement(_connection, _cursor, statement, *_args) -> None:
        if statement.startswith("UPDATE answer SET status") and "attempts" in statement:
            current["claim"] += 1
        elif statement.startswith("INSERT INTO grade "):
            current["store"] += 1

    def on_commit(_connection) -> None:
        if current:
            committed.append(Counter(current))
        current.clear()

    sa.event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    sa.event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield committed
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", on_statement)
        sa.event.remove(engine.sync_engine, "commit", on_commit)


async def test_grades_that_finish_together_share_one_commit(world, sessions, engine, clock):
    opened = await world.open()
    for member in (world.alice, world.bob):
        await world.submit(member, opened, GOOD)
    grader = ScriptedGrader()  # answers at once: both grades finish in the same instant
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=4)
    with _committed_work(engine) as committed:
        assert await worker.drain() == 2
    # one commit for both grades, not one each
    assert [work["store"] for work in committed if work["store"]] == [2]
    assert len(await _rows(sessions, GradeRecord)) == 2
    assert len(await _rows(sessions, ScoreEvent)) == 2


async def test_a_grade_that_fails_in_a_shared_commit_fails_alone(
    world, sessions, clock, monkeypatch
):
    import bot.services.grading as grading

    opened = await world.open()
    alice = await world.submit(world.alice, opened, GOOD)
    await world.submit(world.bob, opened, GOOD)
    real_award = grading.award_points

    async def award_failing_for_alice(*args, **kwargs):
        if kwargs["answer"].id == alice.answer_id:
            raise RuntimeError("alice's row is broken")
        return await real_award(*args, **kwargs)

    monkeypatch.setattr(grading, "award_points", award_failing_for_alice)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=4)
    assert await worker.drain() == 2
    answers = {answer.id: answer for answer in await _rows(sessions, Answer)}
    assert answers[alice.answer_id].status == "pending"  # released, graded again soon
    assert answers[alice.answer_id].last_error == "store failed: RuntimeError"
    [bob_answer] = [a for a in answers.values() if a.id != alice.answer_id]
    assert bob_answer.status == "graded"
    [grade] = await _rows(sessions, GradeRecord)
    assert grade.answer_id == bob_answer.id
    [event] = await _rows(sessions, ScoreEvent)
    assert event.answer_id == bob_answer.id


async def test_storing_a_grade_claims_the_next_answer_in_the_same_transaction(
    world, sessions, engine, clock
):
    opened = await world.open()
    others = [await world.actor(f"U{index}", f"Member {index}") for index in range(3, 7)]
    for member in (world.alice, world.bob, *others):
        await world.submit(member, opened, GOOD)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=2)
    with _committed_work(engine) as committed:
        assert await worker.drain() == 6
    assert len(await _rows(sessions, GradeRecord)) == 6
    # only the first claim and the last (which finds nothing) stand alone; every claim between
    # rides on a transaction storing grades (a claim per freed slot would make four)
    claims_alone = [work for work in committed if not work["store"]]
    assert len(claims_alone) == 2
    assert sum(1 for work in committed if work["store"]) <= 6
    assert all(answer.status == "graded" for answer in await _rows(sessions, Answer))
