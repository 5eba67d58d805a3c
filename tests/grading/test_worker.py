"""The grading worker: retries, provisional fallback, crash recovery, exactly-once points."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from bot.grading.worker import GradingWorker
from bot.storage.models import Answer, GradeRecord, ScoreEvent
from tests.fakes.graders import ScriptedGrader, permanent, transient

GOOD = "gradients flow backwards, weights update, loss decreases"


async def no_sleep(_: float) -> None:
    return None


async def _rows(sessions, model):
    async with sessions() as session:
        return list((await session.execute(sa.select(model))).scalars())


async def test_graded_answer_gets_a_grade_and_points(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    receipt = await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
    announced = []
    worker = GradingWorker(sessions, ScriptedGrader(), ScriptedGrader("offline"), clock)

    async def collect(graded) -> None:
        announced.append(graded)

    worker.add_listener(collect)
    assert await worker.drain() == 1
    view = await world.answers.view(receipt.answer_id)
    assert view.answer.status == "graded" and view.grade.score == 100
    expected_points = {"beginner": 10, "intermediate": 20, "advanced": 30}[
        opened.question.difficulty
    ]
    [event] = await _rows(sessions, ScoreEvent)
    assert event.points == expected_points and event.answer_id == receipt.answer_id
    assert [graded.points for graded in announced] == [expected_points]


async def test_transient_errors_are_retried_with_backoff(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
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
    opened = await world.daily.open_today(world.channel.id)
    receipt = await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
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
    opened = await world.daily.open_today(world.channel.id)
    await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
    llm = ScriptedGrader("llm", failures=permanent())
    worker = GradingWorker(sessions, llm, ScriptedGrader("offline"), clock, sleep=no_sleep)
    await worker.drain()
    assert len(llm.calls) == 1
    [grade] = await _rows(sessions, GradeRecord)
    assert grade.provisional and grade.grader == "offline"


async def test_resubmission_points_replace_earlier_points(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    grader = ScriptedGrader()
    worker = GradingWorker(sessions, grader, grader, clock)
    await world.answers.submit_daily(world.alice.id, opened.post.id, "gradients only")
    await worker.drain()
    clock.advance(timedelta(minutes=10))
    second = await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
    await worker.drain()
    [event] = await _rows(sessions, ScoreEvent)
    assert event.answer_id == second.answer_id
    assert (
        event.points
        == {"beginner": 10, "intermediate": 20, "advanced": 30}[opened.question.difficulty]
    )


async def test_superseded_answer_graded_last_earns_nothing(world, sessions, clock):
    opened = await world.daily.open_today(world.channel.id)
    await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
    second = await world.answers.submit_daily(world.alice.id, opened.post.id, "gradients only")
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    [event] = await _rows(sessions, ScoreEvent)
    assert event.answer_id == second.answer_id


async def test_worker_killed_mid_grading_and_restarted_grades_each_answer_exactly_once(
    world, sessions, clock
):
    opened = await world.daily.open_today(world.channel.id)
    for member in (world.alice, world.bob):
        await world.answers.submit_daily(member.id, opened.post.id, GOOD)
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
    opened = await world.daily.open_today(world.channel.id)
    await world.answers.submit_daily(world.alice.id, opened.post.id, GOOD)
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
