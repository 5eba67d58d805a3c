"""The LLM grader never blocks the event loop.

50 answers of realistic length (500-3,000 characters) are graded at concurrency 4 by the real
LLM grader -- real ``openai`` client, loopback fake judge, the offline grader's relatedness and
the embedding support check wired in as the app wires them -- while a ticker task asks to wake
every 5 ms and records how late it wakes. The worst lateness must stay under 50 ms.

Robustness on a small shared machine, as in ``tests/services/test_loop_lag.py``: the embedding
model is loaded and the start-up objects are frozen out of the garbage collector before
measuring, as the bot does once it has started (:func:`bot.app.settle_memory`); a delay counts
only for the part of it during which this process was using the CPU (the smaller of wall time
and process CPU time), so the operating system taking the whole process off a loaded machine is
not blamed on the grader, while a grading thread holding the interpreter lock, a long garbage
collection or synchronous work on the loop all use CPU and are fully counted; and the
measurement is repeated up to three times, keeping the best run. The control test below shows
that the same harness catches 80 ms of blocking work.

    python -m tests.grading.test_loop_lag     prints the lag figures of one run
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache

from bot.app import settle_memory
from bot.grading.base import GradingItem
from bot.grading.llm import LLMGrader
from bot.grading.offline import OfflineGrader
from tests.fakes.openai_server import FakeOpenAI, ImperfectQuotingJudge
from tests.grading.quote_fairness import load_correct_answers

TICK_SECONDS = 0.005
MAX_LAG_MS = 50.0
ANSWERS = 50
CONCURRENCY = 4
RUNS = 3


@dataclass(frozen=True)
class LagReport:
    worst_ms: float
    p99_ms: float
    median_ms: float
    ticks: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.ticks} ticks over {self.seconds:.1f} s: worst lag {self.worst_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, median {self.median_ms:.1f} ms"
        )


@cache
def workload() -> tuple[tuple[GradingItem, str], ...]:
    """50 (item, answer) pairs: correct answers, every other one lengthened to 1.5-3k chars."""
    entries = load_correct_answers("all")
    pairs = []
    for index in range(ANSWERS):
        entry = entries[index % len(entries)]
        text = entry.answer.text
        if index % 2:
            extra = " ".join(e.answer.text for e in entries[index + 1 : index + 4])
            text = f"{text}\n\n{extra}"[:3000]
        pairs.append((GradingItem.from_question(entry.question), text))
    return tuple(pairs)


async def measure(
    grade: Callable[[GradingItem, str], Awaitable[object]],
    pairs: Sequence[tuple[GradingItem, str]] | None = None,
) -> LagReport:
    """Grade the workload at CONCURRENCY while a 5 ms ticker records its lateness."""
    pairs = workload() if pairs is None else pairs
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(TICK_SECONDS)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            # a stall while the whole process was off the CPU is the machine's, not the
            # grader's: count only the part of the delay during which this process was running
            lags.append(max(0.0, min(wall, cpu) - TICK_SECONDS) * 1000)

    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(item: GradingItem, answer: str) -> None:
        async with semaphore:
            await grade(item, answer)

    started = time.perf_counter()
    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(one(item, answer) for item, answer in pairs))
    finally:
        done.set()
        await ticking
    ordered = sorted(lags)
    return LagReport(
        worst_ms=ordered[-1],
        p99_ms=ordered[int(0.99 * (len(ordered) - 1))],
        median_ms=statistics.median(ordered),
        ticks=len(ordered),
        seconds=time.perf_counter() - started,
    )


async def measure_grader(runs: int = RUNS) -> list[LagReport]:
    """Best-of-``runs`` protocol: stop at the first run within the limit."""
    judge = ImperfectQuotingJudge(style="synonyms")
    for entry in load_correct_answers("all"):
        judge.know(entry.answer)
    offline = OfflineGrader()
    reports = []
    async with FakeOpenAI(judge) as server:
        grader = LLMGrader(
            server.client(timeout=30), "gpt-test", timeout=30, relatedness=offline.relatedness
        )
        pairs = workload()
        await grader.grade(*pairs[0])  # loads the embedding model once, before measuring
        settle_memory()
        try:
            for _ in range(runs):
                reports.append(await measure(grader.grade, pairs))
                if reports[-1].worst_ms <= MAX_LAG_MS:
                    break
        finally:
            gc.unfreeze()
    return reports


async def test_grading_never_blocks_the_event_loop() -> None:
    reports = await measure_grader()
    load = os.getloadavg()[0]
    assert min(report.worst_ms for report in reports) <= MAX_LAG_MS, (
        f"load average {load:.1f} on {os.cpu_count()} CPUs",
        [str(r) for r in reports],
    )


async def test_the_harness_catches_a_blocking_step() -> None:
    """Control: 80 ms of CPU work on the loop per answer shows up as lag above the limit."""

    async def blocking(item: GradingItem, answer: str) -> None:
        await asyncio.sleep(0)
        deadline = time.perf_counter() + 0.08
        while time.perf_counter() < deadline:
            pass

    report = await measure(blocking)
    assert report.worst_ms > MAX_LAG_MS
    assert report.ticks >= 3


if __name__ == "__main__":
    for report in asyncio.run(measure_grader(runs=1)):
        print(report)
