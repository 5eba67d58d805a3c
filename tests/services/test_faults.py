"""Faults: a grading process killed mid-batch and a replacement started; the database dropping
every connection during the load. Every answer ends graded exactly once, its points counted once,
nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
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
