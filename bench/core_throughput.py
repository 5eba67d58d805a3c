"""Foundation figures: how fast an answer is stored and acknowledged, how fast the worker stores
grades, and how long leaderboards and stats take over a year of score events.

    python bench/core_throughput.py [--members 200] [--days 365] [--postgres URL]

Runs the same workload on SQLite (a temp file) and, when given, PostgreSQL (a throwaway
database), side by side in one run, and prints medians. The grader is an instant stub so the
figures are the core's own cost, not a model's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from bot.clock import ManualClock
from bot.domain.bank import Bank, Difficulty, KeyPoint, Question
from bot.domain.rubric import Coverage, KeyPointVerdict
from bot.grading.base import Grade, GradingItem
from bot.grading.worker import GradingWorker
from bot.services.answers import AnswerService
from bot.services.bank_sync import sync_bank
from bot.services.daily import DailyService
from bot.services.directory import Directory
from bot.services.leaderboard import LeaderboardService, Period
from bot.storage.db import create_engine, session_factory
from bot.storage.models import DailyPost, ScoreEvent


class InstantGrader:
    name = "instant"

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        verdicts = tuple(KeyPointVerdict(p.text, Coverage.COVERED) for p in item.key_points)
        return Grade(score=80, verdicts=verdicts, feedback="", grader=self.name)


def bank(size: int = 30) -> Bank:
    levels = list(Difficulty)
    return Bank(
        tuple(
            Question(
                id=f"bench-{i}",
                topic="bench",
                difficulty=levels[i % 3],
                prompt=f"Benchmark question number {i}?",
                reference="A reference answer long enough to pass validation.",
                key_points=(
                    KeyPoint(text="point one", weight=5),
                    KeyPoint(text="point two", weight=5),
                ),
            )
            for i in range(size)
        )
    )


async def run_backend(url: str, members: int, days: int) -> dict[str, float]:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = session_factory(engine)
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    rng = random.Random(7)
    await sync_bank(sessions, bank(), clock)
    directory = Directory(sessions, clock)
    workspace = await directory.workspace("slack", "TBENCH")
    channel = await directory.channel(workspace.id, "CBENCH")
    member_ids = [
        (await directory.member(workspace.id, f"U{i}", f"member {i}")).id for i in range(members)
    ]
    daily = DailyService(sessions, clock, rng)
    answers = AnswerService(sessions, clock)
    worker = GradingWorker(sessions, InstantGrader(), InstantGrader(), clock, concurrency=4)

    # 1. acknowledgement path: validate + store + wake, per answer
    opened = await daily.open_today(channel.id)
    assert opened is not None
    submit_ms = []
    for member_id in member_ids:
        started = time.perf_counter()
        await answers.submit_daily(member_id, opened.post.id, "an answer of ordinary length " * 8)
        submit_ms.append(1000 * (time.perf_counter() - started))

    # 2. worker: claim, grade (instant), store grade + points
    started = time.perf_counter()
    graded = await worker.drain()
    worker_rate = graded / (time.perf_counter() - started)

    # 3. a year of score events for the leaderboard queries
    first = date(2026, 1, 5) - timedelta(days=days)  # history ends the day before today
    async with sessions() as session, session.begin():
        history = [
            DailyPost(
                channel_id=channel.id,
                local_date=first + timedelta(days=day),
                question_id=opened.question.id,
                opened_at=datetime.combine(first + timedelta(days=day), datetime.min.time(), UTC),
                closes_at=datetime.combine(first + timedelta(days=day), datetime.min.time(), UTC),
            )
            for day in range(days)
        ]
        session.add_all(history)
        await session.flush()
        posts = [post.id for post in history]
    rows = []
    answer_id = 10_000_000
    for day, post_id in enumerate(posts):
        when = datetime.combine(first, datetime.min.time(), UTC) + timedelta(days=day, hours=9)
        for member_id in member_ids:
            if rng.random() < 0.6:
                answer_id += 1
                rows.append(
                    {
                        "workspace_id": workspace.id,
                        "channel_id": channel.id,
                        "member_id": member_id,
                        "answer_id": answer_id,
                        "daily_post_id": post_id,
                        "points": rng.randint(0, 30),
                        "member_local_date": when.date(),
                        "occurred_at": when,
                    }
                )
    # score events reference answers; the bench inserts them without answers, so relax the FK
    async with engine.begin() as connection:
        if url.startswith("sqlite"):
            await connection.execute(sa.text("PRAGMA foreign_keys=OFF"))
        else:
            await connection.execute(
                sa.text(
                    "ALTER TABLE score_event DROP CONSTRAINT IF EXISTS score_event_answer_id_fkey"
                )
            )
        for start in range(0, len(rows), 5000):
            await connection.execute(sa.insert(ScoreEvent), rows[start : start + 5000])
    clock.set(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    leaderboards = LeaderboardService(sessions, clock)
    timings: dict[str, list[float]] = {"week": [], "month": [], "all": [], "stats": []}
    for _ in range(15):
        for period in Period:
            started = time.perf_counter()
            await leaderboards.leaderboard(workspace.id, period)
            timings[period.value].append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        await leaderboards.member_stats(member_ids[0])
        timings["stats"].append(1000 * (time.perf_counter() - started))
    await engine.dispose()
    return {
        "submit p50 ms": statistics.median(submit_ms),
        "submit max ms": max(submit_ms),
        "worker answers/s": worker_rate,
        "score events": float(len(rows)),
        **{
            f"leaderboard {k} p50 ms": statistics.median(v)
            for k, v in timings.items()
            if k != "stats"
        },
        "member stats p50 ms": statistics.median(timings["stats"]),
    }


async def _admin(server: str, statement: str) -> None:
    admin = create_engine(make_url(server).set(database="postgres").render_as_string(False))
    async with admin.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(sa.text(statement))
    await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--postgres", help="server URL, e.g. postgresql://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = await run_backend(
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args.members, args.days
        )
    if args.postgres:
        server = args.postgres.replace("postgresql://", "postgresql+asyncpg://", 1)
        name = f"ibot_bench_{uuid.uuid4().hex[:8]}"
        await _admin(server, f'CREATE DATABASE "{name}"')
        try:
            results["postgresql"] = await run_backend(
                make_url(server).set(database=name).render_as_string(False), args.members, args.days
            )
        finally:
            await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    backends = list(results)
    print(f"{args.members} members, {args.days} days; medians of 15 runs for queries")
    print(f"{'figure':<28}" + "".join(f"{name:>14}" for name in backends))
    for figure in results[backends[0]]:
        print(f"{figure:<28}" + "".join(f"{results[name][figure]:>14.1f}" for name in backends))


if __name__ == "__main__":
    asyncio.run(main())
