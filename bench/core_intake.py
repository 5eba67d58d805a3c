"""Core figures: answer acknowledgement under concurrent submissions, and the grading worker's
store rate against the grader's own rate.

    python bench/core_intake.py [--concurrent 500] [--answers 300] [--repeats 5]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]

1. Intake: ``--concurrent`` members submit to one open daily post at the same instant, through
   ``AnswerService.submit`` (durable before it returns); each submission's latency is measured
   from its call to its receipt. Medians over ``--repeats`` runs of p50 and p99.
2. Worker: ``--answers`` pending answers to real bank questions are graded by the offline grader
   through ``GradingWorker.drain`` (claim, grade, store grade + points + result card), against
   the same grader grading the same answers at the same concurrency with no database; both
   after one unmeasured pass of the grader (embeddings loaded, caches warm). Twice: with the
   grader in a child process (``GRADING_PROCESS=true``, the server's default) and in a thread of
   the bench's process (the terminal's). Also the bench process's CPU time per answer.

SQLite (a temp file) and, with ``--postgres`` or ``$TEST_POSTGRES_URL``, a throwaway PostgreSQL
database run side by side
in one run. The core count is printed: figures on 2 noisy cores are medians, compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from harness import ROOT, machine_line, percentile, postgres_server, scratch_postgres
from sqlmodel import SQLModel

from bot.clock import ManualClock
from bot.domain.bank import load_bank
from bot.grading.base import Grader
from bot.grading.offline import OfflineGrader
from bot.grading.separate_process import SeparateProcessGrader
from bot.services.answers import AnswerService, AnswerTarget
from bot.services.channels import ChannelSettings, ConfigChange
from bot.services.daily import DailyService
from bot.services.directory import Directory
from bot.services.grading import GradingWorker, grading_item
from bot.services.question_rows import sync_bank
from bot.storage.db import create_engine, session_factory
from bot.storage.models import Platform, QuestionVersion

ANSWER = (
    "Dropout randomly zeroes a fraction of the activations during training, so units cannot "
    "co-adapt and the network behaves like an ensemble of thinner networks; at test time all "
    "units are kept and the activations are scaled so their expected value matches training. "
)


async def run_backend(url: str, concurrent: int, answers: int, repeats: int) -> dict[str, float]:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    await sync_bank(sessions, load_bank(ROOT / "questions"), clock)
    directory = Directory(sessions, clock)
    channels = ChannelSettings(sessions, clock)
    admin = await directory.resolve(
        Platform.SLACK, "TBENCH", "UADMIN", channel_external_id="CBENCH", is_admin=True
    )
    assert admin.channel_id is not None
    await channels.update(
        admin, admin.channel_id, ConfigChange(enabled=True, days="daily", post_time="00:00")
    )
    daily = DailyService(sessions, clock, random.Random(7))
    opened = await daily.open_due(admin.channel_id)
    assert opened is not None and opened.post.id is not None
    target = AnswerTarget.daily(opened.post.id)
    members = [
        await directory.resolve(
            Platform.SLACK, "TBENCH", f"U{i}", channel_external_id="CBENCH", member_name=f"m{i}"
        )
        for i in range(concurrent)
    ]  # seen before (they clicked Answer): resolve is a cache hit from here on

    # 1. intake
    p50s, p99s, batches = [], [], []
    for _ in range(repeats):
        service = AnswerService(sessions, clock)

        async def submit_one(index: int, service: AnswerService = service) -> float:
            actor = await directory.resolve(
                Platform.SLACK, "TBENCH", f"U{index}", channel_external_id="CBENCH"
            )
            started = time.perf_counter()
            await service.submit(actor, target, ANSWER)
            return 1000 * (time.perf_counter() - started)

        latencies = await asyncio.gather(*(submit_one(i) for i in range(len(members))))
        p50s.append(statistics.median(latencies))
        p99s.append(percentile(latencies, 0.99))
        batches.append(service.batches)
        await service.close()
    writes_after_warmup = directory.writes

    # 2. worker vs the grader alone, on real questions and real-length answers
    async with sessions() as session:
        questions = list(
            (
                await session.execute(
                    # the offline grader declines LLM-only questions (behavioural, design)
                    sa.select(QuestionVersion)
                    .where(sa.not_(QuestionVersion.llm_only))
                    .limit(answers)
                )
            ).scalars()
        )
    items = [grading_item(question) for question in questions]
    texts = [question.reference for question in questions]  # realistic length and vocabulary
    worker_figures: dict[str, float] = {}
    for mode, grader in (("process", SeparateProcessGrader()), ("thread", OfflineGrader())):
        semaphore = asyncio.Semaphore(4)

        async def grade_alone(
            index: int, grader: Grader = grader, semaphore: asyncio.Semaphore = semaphore
        ) -> None:
            async with semaphore:
                await grader.grade(items[index], texts[index])

        # one unmeasured pass: the embeddings load and the grader's caches warm up, so the
        # grader alone and the worker below both run warm
        await asyncio.gather(*(grade_alone(i) for i in range(len(items))))
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(grade_alone(i) for i in range(len(items))))
        grader_rate = len(items) / (time.perf_counter() - started)
        grader_cpu = 1000 * (time.process_time() - cpu_started) / len(items)

        async with engine.begin() as connection:  # the intake's daily answers are not part of it
            await connection.execute(
                sa.text("UPDATE answer SET status = 'graded' WHERE status = 'pending'")
            )
        service = AnswerService(sessions, clock)
        member = members[0]
        for question, text in zip(questions, texts, strict=True):
            assert question.id is not None
            await service.submit(member, AnswerTarget.practice(question.id), text)
        await service.close()
        worker = GradingWorker(sessions, grader, grader, clock, concurrency=4)
        started, cpu_started = time.perf_counter(), time.process_time()
        stored = await worker.drain()
        worker_rate = stored / (time.perf_counter() - started)
        worker_cpu = 1000 * (time.process_time() - cpu_started) / max(1, stored)
        worker_figures |= {
            f"{mode}: grader alone answers/s": grader_rate,
            f"{mode}: worker stored answers/s": worker_rate,
            f"{mode}: worker / grader": worker_rate / grader_rate,
            f"{mode}: grader alone CPU ms/answer": grader_cpu,
            f"{mode}: worker CPU ms/answer": worker_cpu,
        }
    await engine.dispose()
    return {
        "intake p50 ms": statistics.median(p50s),
        "intake p99 ms": statistics.median(p99s),
        "intake transactions": statistics.median(batches),
        "resolve writes": float(writes_after_warmup - concurrent - 1),
        **worker_figures,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", help="a server URL; default $TEST_POSTGRES_URL")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = await run_backend(
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            args.concurrent,
            args.answers,
            args.repeats,
        )
    server = postgres_server(args.postgres)
    if server:
        async with scratch_postgres(server, "ibot_bench") as url:
            results["postgresql"] = await run_backend(
                url, args.concurrent, args.answers, args.repeats
            )
    backends = list(results)
    print(
        f"{machine_line()}; {args.concurrent} concurrent submissions (medians of "
        f"{args.repeats} runs); {args.answers} answers graded by the offline grader"
    )
    print(f"{'figure':<36}" + "".join(f"{name:>14}" for name in backends))
    for figure in results[backends[0]]:
        print(f"{figure:<36}" + "".join(f"{results[name][figure]:>14.2f}" for name in backends))


if __name__ == "__main__":
    asyncio.run(main())
