"""Command line: `python -m bot run | db | bank | grade | grades` (also installed as `interview-bot`).

Operator errors (bad configuration, unreachable database, malformed bank files) print one clear
line per problem and exit non-zero, without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.config import ConfigError, Settings, load_settings
from bot.domain.bank import BankValidationError, load_bank
from bot.storage.db import DatabaseUnavailable

app = typer.Typer(
    help="Deep-learning interview practice bot.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
bank_app = typer.Typer(help="The question bank.", no_args_is_help=True)
grades_app = typer.Typer(help="Stored grades.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")
app.add_typer(grades_app, name="grades")

out = Console()
err = Console(stderr=True, soft_wrap=True)

EXIT_CONFIG = 2
EXIT_DATABASE = 3


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def bank_errors(exc: BankValidationError) -> typer.Exit:
    """Print every bank error as file:line: field: message; return the exit to raise."""
    for error in exc.errors:
        err.print(str(error), markup=False, highlight=False)
    return fail(f"{len(exc.errors)} error(s) in the question bank")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise fail(f"configuration: {exc}", EXIT_CONFIG) from None


def run_async(coroutine: Coroutine[Any, Any, int | None]) -> int:
    try:
        return asyncio.run(coroutine) or 0
    except DatabaseUnavailable as exc:
        raise fail(str(exc), EXIT_DATABASE) from None
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    except KeyboardInterrupt:
        return 130


def configure_logging(settings: Settings, *, interactive: bool) -> None:
    level = getattr(logging, settings.log_level)
    if interactive and level < logging.WARNING:
        level = logging.WARNING  # keep the practice screen clean; LOG_LEVEL=DEBUG still works
    if settings.log_level == "DEBUG":
        level = logging.DEBUG
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("httpx", "httpx2", "openai", "apscheduler", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@app.command()
def run() -> None:
    """Run the bot: chat adapters when their tokens are set, otherwise terminal practice."""
    settings = settings_or_exit()
    adapters = settings.chat_adapters
    configure_logging(settings, interactive=not adapters)
    if adapters:
        missing = ", ".join(adapters)
        raise fail(
            f"chat tokens are set for {missing}, but the {missing} adapter is not available yet in "
            "this version. Unset the tokens to practise in the terminal.",
            EXIT_CONFIG,
        )
    raise typer.Exit(run_async(_run_console(settings)))


async def _run_console(settings: Settings) -> int:
    from bot.adapters.console import ConsoleSession
    from bot.app import BotApp

    bot = await BotApp.create(settings)
    try:
        return await ConsoleSession(bot).run()
    finally:
        await bot.close()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the schema (SQLite file or PostgreSQL)."""
    settings = settings_or_exit()
    raise typer.Exit(run_async(_migrate(settings, revision, up=True)))


@db_app.command("downgrade")
def db_downgrade(revision: str = "-1") -> None:
    """Step the schema back (default: one revision)."""
    settings = settings_or_exit()
    raise typer.Exit(run_async(_migrate(settings, revision, up=False)))


async def _migrate(settings: Settings, revision: str, *, up: bool) -> int:
    from bot.storage import migrate
    from bot.storage.db import check_connection, create_engine

    engine = create_engine(settings.database_url)
    try:
        await check_connection(engine)
    finally:
        await engine.dispose()
    action = migrate.upgrade if up else migrate.downgrade
    await asyncio.to_thread(action, settings.database_url, revision)
    out.print(f"database at revision {revision} ({'upgrade' if up else 'downgrade'} done)")
    return 0


@bank_app.command("validate")
def bank_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories (default: the configured bank)."),
    ] = None,
) -> None:
    """Check bank files; every error is reported as file:line: field: message."""
    settings = settings_or_exit()
    try:
        if paths:
            bank = load_bank(*paths)
        else:
            from bot.app import load_configured_bank

            bank = load_configured_bank(settings)
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    out.print(f"ok: {len(bank.questions)} questions in {len(bank.topics())} topics")


@bank_app.command("stats")
def bank_stats() -> None:
    """Questions per topic and difficulty, rubric sizes and seed coverage."""
    from bot.app import load_configured_bank
    from bot.domain.coverage import coverage_summary

    settings = settings_or_exit()
    try:
        bank = load_configured_bank(settings)
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    levels = ["beginner", "intermediate", "advanced"]
    table = Table(title=f"{len(bank.questions)} questions")
    for column in ["topic", *levels, "total", "key points (min-max)"]:
        table.add_column(column, justify="left" if column == "topic" else "right")
    totals = dict.fromkeys(levels, 0)
    for topic in bank.topics():
        questions = [question for question in bank.questions if question.topic == topic]
        counts = [sum(question.difficulty == level for question in questions) for level in levels]
        for level, count in zip(levels, counts, strict=True):
            totals[level] += count
        sizes = [len(question.key_points) for question in questions]
        table.add_row(topic, *map(str, counts), str(len(questions)), f"{min(sizes)}-{max(sizes)}")
    grand = sum(totals.values())
    table.add_row(
        "[bold]all[/bold]",
        *(f"{totals[level]} ({100 * totals[level] / max(grand, 1):.0f}%)" for level in levels),
        str(grand),
        "",
    )
    out.print(table)
    summary = coverage_summary(settings.questions_dir / "coverage", bank)
    if summary:
        coverage = Table(title="seed coverage")
        for column in ["seed", "mapped", "excluded", "total", "missing ids"]:
            coverage.add_column(column)
        for row in summary:
            coverage.add_row(
                row.seed, str(row.mapped), str(row.excluded), str(row.total), str(row.unknown_ids)
            )
        out.print(coverage)


@app.command()
def grade(
    input: Annotated[
        Path, typer.Option("--input", help="JSONL: question, reference, answer[, key_points]")
    ],
    output: Annotated[
        Path, typer.Option("--output", help="JSONL with score, verdicts, feedback, grader")
    ],
    grader: Annotated[str, typer.Option("--grader", help="offline or llm")] = "offline",
) -> None:
    """Grade a JSONL file of answers with the offline or the LLM grader."""
    settings = settings_or_exit()
    if grader not in {"offline", "llm"}:
        raise fail("--grader must be offline or llm")
    if grader == "llm" and settings.openai_api_key is None:
        raise fail(
            "--grader llm needs OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server)",
            EXIT_CONFIG,
        )
    if not input.exists():
        raise fail(f"{input}: no such file")
    raise typer.Exit(run_async(_grade_file(settings, input, output, grader)))


async def _grade_file(settings: Settings, input: Path, output: Path, grader_name: str) -> int:
    from bot.app import build_llm_grader
    from bot.grading.batch import BatchInputError, grade_jsonl
    from bot.grading.offline import OfflineGrader

    offline = OfflineGrader()
    # a one-off batch has no worker around it, so the client retries transient errors itself
    chosen = (
        offline
        if grader_name == "offline"
        else build_llm_grader(settings, offline, client_retries=2)
    )
    try:
        summary = await grade_jsonl(input, output, chosen)
    except BatchInputError as exc:
        raise fail(str(exc)) from None
    mean = f"{summary.mean_score:.1f}" if summary.mean_score is not None else "-"
    out.print(
        f"graded {summary.graded} answers (failed {summary.failed}, mean score {mean}) -> {output}"
    )
    return 1 if summary.failed else 0


@grades_app.command("requeue")
def grades_requeue() -> None:
    """Re-grade answers whose grade is provisional or whose grading failed (run with the bot)."""
    settings = settings_or_exit()
    raise typer.Exit(run_async(_requeue(settings)))


async def _requeue(settings: Settings) -> int:
    from bot.app import BotApp

    bot = await BotApp.create(settings)
    try:
        count = await bot.worker.requeue()
        graded = await bot.worker.drain()
    finally:
        await bot.close()
    out.print(f"re-queued {count} answers; graded {graded}")
    return 0


def main() -> None:
    app()
