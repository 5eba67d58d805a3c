"""Faults: a grading process killed mid-batch and a replacement started; the database dropping
every connection during the load. Every answer ends graded exactly once, its points counted once,
nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.services.grading import GradingWorker
from bot.storage.db import create_engine
from bot.storage.models import Answer, AnswerStatus, GradeRecord, ScoreEvent
from tests.fakes.graders import ScriptedGrader

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 30


async def _counts(sessions) -> tuple[int, int, int, int]:
    async with sessions() as session:
        answers = (await session.execute(sa.select(sa.func.count(Answer.id)))).scalar_one()
        graded = (
            await session.execute(
                sa.select(sa.func.count(Answer.id)).where(Answer.status == AnswerStatus.GRADED)
            )
        ).scalar_one()
        grades = (await session.execute(sa.select(sa.func.count(GradeRecord.id)))).scalar_one()
        events = (await session.execute(sa.select(sa.func.count(ScoreEvent.id)))).scalar_one()
    return answers, graded, grades, events


async def _submit_all(world, count: int) -> None:
    opened = await world.open()
    members = [await world.actor(f"UF{index}", f"F{index}") for index in range(count)]
    await asyncio.gather(
        *(world.submit(member, opened, "gradients weights loss") for member in members)
    )


async def test_a_grading_process_killed_mid_batch_loses_nothing_and_grades_once(
    world, sessions, clock, database_url
):
    await _submit_all(world, MEMBERS)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.grading_process",
        database_url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert process.stdout is not None
    try:
        while True:  # let it store a few grades, then kill it in the middle of the next ones
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, "the grading process died on its own"
            if int(line.split()[1]) >= 5:
                break
    finally:
        process.kill()  # SIGKILL: no clean-up of any kind
        await process.wait()
    answers, graded, _, _ = await _counts(sessions)
    assert 5 <= graded < answers  # killed mid-batch: some graded, some claimed and left behind
    clock.set(clock.now() + timedelta(days=1, minutes=6))  # past the dead process's leases
    grader = ScriptedGrader()
    await GradingWorker(sessions, grader, grader, clock).drain()
    answers, graded, grades, events = await _counts(sessions)
    assert graded == answers == MEMBERS
    assert grades == answers  # the dead process's half-done grades were never stored twice
    assert events == answers  # points once each


@pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)
async def test_connections_dropped_by_the_server_mid_load_are_recovered(
    world, sessions, clock, database_url, db_backend
):
    await _submit_all(world, MEMBERS)
    grader = ScriptedGrader()
    gate = asyncio.Event()
    original = grader.grade

    async def grade(item, answer):
        if len(grader.calls) == 10:
            gate.set()
        return await original(item, answer)

    grader.grade = grade  # type: ignore[method-assign]
    worker = GradingWorker(sessions, grader, grader, clock, concurrency=2)
    run = asyncio.create_task(worker.drain())
    await asyncio.wait_for(gate.wait(), 30)
    name = sa.engine.make_url(database_url).database
    admin = create_engine(database_url)
    try:
        async with admin.connect() as connection:
            # what a server restart does to its clients: every connection to the database is cut
            await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    finally:
        await admin.dispose()
    with contextlib.suppress(Exception):  # the batch in flight may fail with the cut
        await run
    clock.advance(timedelta(minutes=6))
    await worker.drain()  # the pool pre-pings: new connections, and the rest is graded
    answers, graded, grades, events = await _counts(sessions)
    assert graded == answers == MEMBERS
    assert grades == answers and events == answers


ANSWER_SHAPES = (
    "Gradients flow backwards through the network and the weights update with the learning "
    "rate, so the loss decreases over training.",
    "The loss decreases because each weight moves against its gradient, scaled by the "
    "learning rate.",
    "Backpropagation sends gradients backwards; I am not sure what happens next.",
    "It is about convolution kernels sliding over an image.",
)


async def test_an_llm_failing_30_percent_of_calls_grades_1000_answers_once_each(
    world, sessions, clock
):
    """429 with Retry-After, 500, stalls past the timeout, malformed JSON and dropped
    connections at random while 1,000 answers arrive: each is graded once, its points once."""
    from bot.domain.points import points_for
    from bot.grading.llm import LLMGrader
    from bot.grading.offline import OfflineGrader
    from tests.fakes.openai_server import Chaos, FakeOpenAI

    count = 1000
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    opened = await world.open()
    async with FakeOpenAI() as server:
        server.chaos = Chaos(rate=0.3, rng=random.Random(2026), stall_seconds=2.0)
        llm = LLMGrader(server.client(timeout=0.5), "gpt-test", timeout=0.5)
        all_graded = asyncio.Event()
        worker = GradingWorker(
            sessions, llm, OfflineGrader(), clock, concurrency=16, max_attempts=4,
            rng=random.Random(5), sleep=recorded_sleep, poll_seconds=0.05,
            after_commit=lambda: worker.stored >= count and all_graded.set(),
        )  # fmt: skip
        await worker.start()
        try:
            for start in range(0, count, 50):  # answers keep arriving while grading runs
                members = [
                    await world.actor(f"UC{index}", f"C{index}")
                    for index in range(start, start + 50)
                ]
                await asyncio.gather(
                    *(
                        world.submit(member, opened, ANSWER_SHAPES[index % len(ANSWER_SHAPES)])
                        for index, member in enumerate(members, start)
                    )
                )
                worker.wake()
            await asyncio.wait_for(all_graded.wait(), 600)
        finally:
            await worker.stop()
        failures = dict(server.chaos.failures)
    answers, graded, grades, events = await _counts(sessions)
    assert answers == graded == grades == events == count
    assert set(failures) == {"rate-limit", "server-error", "timeout", "malformed", "dropped"}
    assert 0.25 < sum(failures.values()) / len(server.requests) < 0.35
    assert any(wait >= 1.0 for wait in waits), "Retry-After: 1 was honoured"
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(GradeRecord.score, GradeRecord.provisional, ScoreEvent.points)
                .join(Answer, Answer.current_grade_id == GradeRecord.id)
                .join(ScoreEvent, ScoreEvent.answer_id == Answer.id)
            )
        ).all()
    assert len(rows) == count
    difficulty = opened.question.difficulty
    assert all(points == points_for(score, difficulty) for score, _, points in rows)
    provisional = sum(1 for _, is_provisional, _ in rows if is_provisional)
    # four attempts each failing with p = 0.3: about 0.8 % fall back to the offline grader
    assert provisional < count * 0.05
