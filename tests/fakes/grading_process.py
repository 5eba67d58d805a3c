"""A grading worker in a process of its own, for the kill test: it grades the database's pending
answers slowly (1 s each, scripted grades) and prints "graded N" after each stored grade, until
it is killed.

    python -m tests.fakes.grading_process DATABASE_URL
"""

from __future__ import annotations

import asyncio
import sys

from bot.clock import SystemClock
from bot.services.grading import GradingWorker
from bot.storage.db import create_engine, session_factory
from tests.fakes.graders import ScriptedGrader


class SlowGrader(ScriptedGrader):
    async def grade(self, item, answer):
        await asyncio.sleep(1.0)
        return await super().grade(item, answer)


async def main(url: str) -> None:
    engine = create_engine(url)
    grader = SlowGrader()
    worker = GradingWorker(session_factory(engine), grader, grader, SystemClock(), concurrency=2)
    while True:
        claimed = await worker.run_once()
        print(f"graded {worker.stored}", flush=True)
        if not claimed:
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
