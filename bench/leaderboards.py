"""Leaderboards at a million score events: board and member-stats latency read from the rollups,
the cost of scoring one answer with and without them, the migration's backfill, and the SQLite
file size per million answers.

    python bench/leaderboards.py [--answers 1000000] [--samples 200] [--shape both|one|many]
        [--postgres URL] [--no-sqlite]

Each database (SQLite always, PostgreSQL too when ``--postgres`` or ``$TEST_POSTGRES_URL`` names a
server) is migrated to 0004, filled by ``bench/filldb.py`` with ``--answers`` graded answers and
their score events, then upgraded to head (timed): 0005 backfills ``leaderboard_total``, 0006 the
events' scores and the members' score sums, 0007 packs every grade's verdicts, 0008 packs
each grade's verdicts and feedback into one body against its answer and question; then it is
analysed (ANALYZE: the plans must hold with statistics) and, on PostgreSQL, vacuumed, as
autovacuum would after the load and the rewrite. Two shapes: ``one``, the copy the issue
measured (one workspace, 5,000 members, 50 channels, three years), and ``many``, the goal's
(1,000 workspaces, 50,000 members, 1,000 channels). Then, interleaved so noise hits all alike:

- p50/p95 of the workspace board (week, month, all time), the channel board (week, all time)
  and member stats, for random workspaces, channels and members of the filled history;
- the aggregation the boards ran before the rollups (all-time workspace board, and the whole
  ranking member stats computed to find one rank), a few times, for the ratio;
- scoring one answer in its own transaction (p50/p95): today's ``award_points`` (score event +
  rollups), the score event alone as before this change, and a re-grade (the replace path);
- on SQLite, the file's size per million answers as migrated and after VACUUM.

Every figure line carries the 1-minute load average when it was printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from filldb import History, fill_history
from harness import (
    ROOT,
    add_database_flags,
    machine_line,
    median,
    percentile,
    postgres_server,
    run,
    scratch_postgres,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHAPES = {
    "one": ("one workspace, 5,000 members, 50 channels", dict(members=5_000, channels=50)),
    "many": (
        "1,000 workspaces, 50,000 members, 1,000 channels",
        dict(members=50_000, channels=1_000, workspaces=1_000),
    ),
}


def load() -> str:
    return f"(load {os.getloadavg()[0]:.2f})"


def figure(label: str, samples: list[float], goal_ms: float | None = None) -> str:
    ms = [value * 1000 for value in samples]
    verdict = ""
    if goal_ms is not None:
        verdict = f", goal p95 <= {goal_ms:g} ms: {'met' if percentile(ms, 0.95) <= goal_ms else 'missed'}"
    return (
        f"  {label}: p50 {percentile(ms, 0.50):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms "
        f"({len(ms)} runs{verdict}) {load()}"
    )


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def old_board(session, workspace_id: int, limit: int | None = 10) -> list:
    """The aggregation the all-time workspace board ran before the rollups."""
    from bot.storage.models import Member, ScoreEvent

    total = sa.func.sum(ScoreEvent.points).label("points")
    count = sa.func.count(ScoreEvent.id).label("answers")
    last = sa.func.max(ScoreEvent.occurred_at).label("last_at")
    query = (
        sa.select(ScoreEvent.member_id, Member.display_name, total, count, last)
        .join(Member, Member.id == ScoreEvent.member_id)
        .where(ScoreEvent.workspace_id == workspace_id)
        .group_by(ScoreEvent.member_id, Member.display_name)
        .order_by(total.desc(), count.desc(), last.asc(), ScoreEvent.member_id.asc())
    )
    if limit is None:  # the whole ranking, as member stats counted it to find one rank
        ranking = query.subquery()
        query = sa.select(sa.func.count()).select_from(ranking).where(ranking.c.points > 100)
        return [(await session.execute(query)).scalar_one()]
    return (await session.execute(query.limit(limit))).all()


async def old_award(session, values: dict) -> None:
    """The score event alone, as ``award_points`` wrote it before the rollups."""
    from bot.storage.db import insert_ignore
    from bot.storage.models import ScoreEvent

    statement = insert_ignore(session, ScoreEvent).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["daily_post_id", "member_id"],
        set_={
            key: statement.excluded[key]
            for key in ("answer_id", "points", "member_local_date", "occurred_at")
        },
    )
    await session.execute(statement)


async def scoring_costs(sessions, samples: int, rng: random.Random) -> list[str]:
    """New answers to tomorrow's posts of the first workspace, scored one transaction each."""
    from bot.services.scoring import award_points
    from bot.storage.db import transaction
    from bot.storage.models import (
        Answer,
        AnswerKind,
        AnswerStatus,
        Channel,
        DailyPost,
        Member,
        QuestionVersion,
        Workspace,
    )

    async with transaction(sessions) as session:
        workspace = await session.get(Workspace, 1)
        question = (await session.execute(sa.select(QuestionVersion).limit(1))).scalar_one()
        channels = (
            (await session.execute(sa.select(Channel).where(Channel.workspace_id == 1)))
            .scalars()
            .all()
        )
        members = (
            (
                await session.execute(
                    sa.select(Member).where(Member.workspace_id == 1).order_by(Member.id).limit(50)
                )
            )
            .scalars()
            .all()
        )
        day = NOW.date() + timedelta(days=1)
        jobs = []
        for channel in channels:
            post = DailyPost(
                channel_id=channel.id,
                local_date=day,
                question_id=question.id,
                opened_at=NOW,
                closes_at=NOW + timedelta(hours=23),
            )
            session.add(post)
            await session.flush()
            for member in members:
                answer = Answer(
                    member_id=member.id,
                    question_id=question.id,
                    daily_post_id=post.id,
                    kind=AnswerKind.DAILY,
                    text="an answer",
                    status=AnswerStatus.GRADED,
                    scored=True,
                    attempts=1,
                    submitted_at=NOW + timedelta(minutes=len(jobs) % 600),
                    updated_at=NOW,
                )
                session.add(answer)
                jobs.append((answer, member, post, channel))
                if len(jobs) >= 2 * samples:
                    break
            if len(jobs) >= 2 * samples:
                break
        await session.flush()
    rng.shuffle(jobs)
    new, old, regrade = [], [], []

    async def award(job) -> None:
        answer, member, post, channel = job
        async with transaction(sessions) as session:
            await award_points(
                session,
                answer=answer,
                score=rng.randint(0, 100),
                question=question,
                member=member,
                workspace=workspace,
                post=post,
                channel=channel,
            )

    async def award_before(job) -> None:
        answer, member, post, channel = job
        async with transaction(sessions) as session:
            await old_award(
                session,
                {
                    "workspace_id": workspace.id,
                    "channel_id": channel.id,
                    "member_id": member.id,
                    "answer_id": answer.id,
                    "daily_post_id": post.id,
                    "points": rng.randint(0, 20),
                    "member_local_date": answer.submitted_at.date(),
                    "occurred_at": answer.submitted_at,
                },
            )

    half = len(jobs) // 2
    for first, second in zip(jobs[:half], jobs[half:], strict=False):  # side by side
        new.append(await timed(lambda job=first: award(job)))
        old.append(await timed(lambda job=second: award_before(job)))
    for job in jobs[:half]:
        regrade.append(await timed(lambda job=job: award(job)))
    delta = (median(new) - median(old)) * 1000
    return [
        figure("scoring one answer, score event + rollups (now)", new),
        figure("scoring one answer, score event alone (before)", old),
        f"  scoring: median difference {delta:+.2f} ms (goal within 2 ms: "
        f"{'met' if delta <= 2 else 'missed'}) {load()}",
        figure("re-grading one answer (replace path: lock, update, rollups)", regrade),
    ]


async def measure(url: str, backend: str, shape: str, args: argparse.Namespace) -> list[str]:
    from bot.clock import ManualClock
    from bot.domain.bank import load_bank
    from bot.services.leaderboard import LeaderboardService, Period, _Standing
    from bot.services.question_rows import sync_bank
    from bot.storage import migrate
    from bot.storage.db import create_engine, session_factory
    from bot.storage.models import LeaderboardTotal, Member
    from bot.storage.rollups import WORKSPACE_SCOPE

    title, counts = SHAPES[shape]
    history = History(answers=args.answers, **counts)
    lines = [f"{backend}, {title}, {history.posts * history.answers_per_post:,} answers:"]
    rng = random.Random(14)
    clock = ManualClock(NOW)
    await migrate.upgrade_async(url, "0004")
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        await sync_bank(sessions, load_bank(ROOT / "questions"), clock)
        filled = await fill_history(engine, NOW, history)
        lines.append(f"  filled in {filled.seconds:.1f} s {load()}")
        started = time.perf_counter()
        await engine.dispose()
        await migrate.upgrade_async(url)
        async with engine.connect() as connection:
            if backend == "PostgreSQL":
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("ANALYZE")
            rows = (
                await connection.exec_driver_sql("SELECT count(*) FROM leaderboard_total")
            ).scalar_one()
        lines.append(
            f"  migrations 0005-0008 (backfill of {rows:,} leaderboard_total rows from the score "
            "events, the events' scores and score sums, every grade's verdicts packed, then "
            "packed with its feedback against its answer and question) and "
            f"ANALYZE: {time.perf_counter() - started:.1f} s {load()}"
        )
        if backend == "PostgreSQL":
            # what autovacuum does after a bulk load and 0007's rewrite of every grade row: the
            # visibility map it sets lets index-only scans skip the heap (member stats use them)
            started = time.perf_counter()
            async with engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("VACUUM")
            lines.append(f"  VACUUM: {time.perf_counter() - started:.1f} s {load()}")
        boards = LeaderboardService(sessions, clock)
        spaces = history.workspaces
        kinds: dict[str, Callable[[], Awaitable[object]]] = {}
        results: dict[str, list[float]] = {}

        def pick() -> tuple[int, int, int]:
            workspace = rng.randint(1, spaces)
            channel = workspace + spaces * rng.randrange(history.channels // spaces)
            member = workspace + spaces * rng.randrange(history.members // spaces)
            return workspace, channel, member

        async def rank(member_id: int) -> int:
            async with sessions() as session:
                member = await session.get(Member, member_id)
                assert member is not None
                total = await session.get(
                    LeaderboardTotal, (member.workspace_id, WORKSPACE_SCOPE, member_id)
                )
                if total is None:
                    return 0
                standing = _Standing(
                    total.workspace_id, member_id, total.points, total.answers, total.last_at
                )
                return await boards._members_ahead(session, standing)

        for _ in range(args.samples):
            workspace, channel, member = pick()
            kinds = {
                "workspace board, this week": lambda w=workspace: boards.leaderboard(
                    w, Period.WEEK
                ),
                "workspace board, this month": lambda w=workspace: boards.leaderboard(
                    w, Period.MONTH
                ),
                "workspace board, all time": lambda w=workspace: boards.leaderboard(w, Period.ALL),
                "channel board, this week": lambda w=workspace, c=channel: boards.leaderboard(
                    w, Period.WEEK, channel_id=c
                ),
                "channel board, all time": lambda w=workspace, c=channel: boards.leaderboard(
                    w, Period.ALL, channel_id=c
                ),
                "member stats": lambda m=member: boards.member_stats(m),
                "member rank alone (the part of member stats that ranked)": lambda m=member: rank(
                    m
                ),
            }
            for label, call in kinds.items():
                results.setdefault(label, []).append(await timed(call))
        for label, samples in results.items():
            lines.append(figure(label, samples, goal_ms=20))
        top = await boards.leaderboard(1, Period.ALL, limit=3)
        lines.append(f"  (workspace 1's top three: {[(row.member_id, row.points) for row in top]})")
        before_board, before_rank = [], []
        for _ in range(args.before_samples):
            async with sessions() as session:
                before_board.append(await timed(lambda s=session: old_board(s, 1)))
                before_rank.append(await timed(lambda s=session: old_board(s, 1, None)))
        lines.append(
            figure("before: all-time workspace board by aggregation (workspace 1)", before_board)
        )
        lines.append(
            figure("before: the whole ranking member stats counted (workspace 1)", before_rank)
        )
        ratio = median(before_board) / median(results["workspace board, all time"])
        lines.append(f"  all-time workspace board, aggregation / rollups: {ratio:.0f}x {load()}")
        lines += await scoring_costs(sessions, args.samples, rng)
        if backend == "SQLite":
            lines += await sqlite_size(engine, history)
    finally:
        await engine.dispose()
    return lines


async def sqlite_size(engine, history: History) -> list[str]:
    """The file's size as the migrations left it, then after VACUUM (the pages the JSON verdicts
    and the feedback held are free pages until then), with the big tables' shares."""
    path = Path(engine.url.database or "")
    answers = history.posts * history.answers_per_post
    lines = []
    for step in ("after the migrations", "after VACUUM"):
        async with engine.connect() as connection:
            if step == "after VACUUM":
                await connection.exec_driver_sql("VACUUM")
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            try:
                shares = (
                    await connection.exec_driver_sql(
                        "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('grade', 'answer', "
                        "'leaderboard_total') GROUP BY name ORDER BY name"
                    )
                ).all()
            except sa.exc.OperationalError:  # SQLite built without dbstat
                shares = []
            body = (
                await connection.exec_driver_sql("SELECT avg(length(body)) FROM grade")
            ).scalar_one()
            text = (await connection.exec_driver_sql("SELECT avg(length(text)) FROM answer")).one()
        size = (await asyncio.to_thread(path.stat)).st_size
        per_million = size * 1_000_000 / answers / 1e9
        parts = ", ".join(f"{name} {pages / 1e6:.0f} MB" for name, pages in shares)
        lines.append(
            f"  SQLite file {step}: {size / 1e9:.2f} GB = {per_million:.2f} GB per million graded "
            f"answers ({parts}; per row: grade body (verdicts and feedback) {body:.0f} B, "
            f"answer text {text[0]:.0f} chars) (goal <= 1.2 GB per "
            f"million) {load()}"
        )
    return lines


async def main_async(args: argparse.Namespace) -> None:
    print(machine_line(), flush=True)
    shapes = list(SHAPES) if args.shape == "both" else [args.shape]
    lines: list[str] = []
    for shape in shapes:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'leaderboards.db'}"
                found = await measure(url, "SQLite", shape, args)
                print("\n".join(found), flush=True)
                lines += found
        server = postgres_server(args.postgres)
        if server:
            async with scratch_postgres(server, "leaderboards") as url:
                found = await measure(url, "PostgreSQL", shape, args)
                print("\n".join(found), flush=True)
                lines += found
    print()
    print(machine_line())
    for line in lines:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--before-samples", type=int, default=5)
    parser.add_argument("--shape", choices=["both", *SHAPES], default="both")
    add_database_flags(parser)
    run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
