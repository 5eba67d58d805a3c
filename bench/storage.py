"""Where the bytes of an SQLite database go, per million graded answers.

    python bench/storage.py [--answers 100000] [--answers 200000] [--keep PATH]

For each ``--answers`` count: a fresh SQLite file is migrated to head, the bank synced, filled
by ``bench/filldb.py`` with that many graded answers (realistic text, the offline grader's
verdicts and feedback), VACUUMed, then broken down with SQLite's ``dbstat`` table: every table
and index's pages, and the average stored length of the big tables' wide columns. The figures
are scaled to a million answers; two counts show whether the scaling is linear (the bank and
the fixed tables weigh the same at any count). The goal (issue 14) is <= 1.2 GB per million.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from filldb import History, fill_history
from harness import ROOT, machine_line, run

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GOAL_GB = 1.2
#: The wide columns whose average stored size is shown, by table.
COLUMNS = {
    "answer": ("text", "reply_context", "intake_key", "submitted_at", "claimed_at"),
    "grade": ("body", "verdicts", "feedback", "factual_errors", "flags", "created_at"),
    "score_event": ("occurred_at", "member_local_date"),
}


def load() -> str:
    return f"(load {os.getloadavg()[0]:.1f})"


async def breakdown(path: Path, answers: int, keep: bool) -> list[str]:
    from bot.clock import ManualClock
    from bot.domain.bank import load_bank
    from bot.services.question_rows import sync_bank
    from bot.storage import migrate
    from bot.storage.db import create_engine, session_factory

    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade_async(url)
    engine = create_engine(url)
    try:
        await sync_bank(session_factory(engine), load_bank(ROOT / "questions"), ManualClock(NOW))
        filled = await fill_history(engine, NOW, History(answers=answers))
        async with engine.connect() as connection:
            await connection.exec_driver_sql("VACUUM")
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            objects = (
                await connection.exec_driver_sql(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                )
            ).all()
            widths = {}
            for table, columns in COLUMNS.items():
                present = {
                    row[1]
                    for row in (
                        await connection.exec_driver_sql(f"PRAGMA table_info({table})")
                    ).all()
                }
                for column in columns:
                    if column in present:
                        widths[f"{table}.{column}"] = (
                            await connection.exec_driver_sql(
                                f"SELECT avg(length(CAST({column} AS BLOB))) FROM {table}"
                            )
                        ).scalar_one()
    finally:
        await engine.dispose()
    size = (await asyncio.to_thread(path.stat)).st_size
    scale = 1_000_000 / filled.answers
    lines = [
        f"{filled.answers:,} answers: file {size / 1e6:.1f} MB after VACUUM = "
        f"{size * scale / 1e9:.3f} GB per million graded answers (goal <= {GOAL_GB}) {load()}"
    ]
    total = sum(pages for _, pages in objects)
    for name, pages in objects:
        if pages * 1000 < total:  # under 0.1 %: the bank's and the small tables' own pages
            continue
        lines.append(
            f"  {name:34s} {pages / 1e6:8.1f} MB  {pages * scale / 1e6:8.0f} MB/M  "
            f"{pages / filled.answers:7.0f} B/answer  {100 * pages / total:5.1f} %"
        )
    lines.append(
        "  average stored bytes per row: "
        + ", ".join(f"{name} {width or 0:.0f}" for name, width in widths.items())
    )
    if keep:
        lines.append(f"  kept: {path}")
    return lines


async def main_async(args: argparse.Namespace) -> None:
    print(machine_line(), flush=True)
    for answers in args.answers or [100_000]:
        if args.keep:
            path = Path(args.keep) / f"storage-{answers}.db"
            path.unlink(missing_ok=True)
            print("\n".join(await breakdown(path, answers, True)), flush=True)
            continue
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "storage.db"
            print("\n".join(await breakdown(path, answers, False)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, action="append")
    parser.add_argument("--keep", help="a folder to keep the filled files in")
    run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
