"""Command line: `python -m bot run | db | bank | grade | grades | outbox | channels | discord`
(also installed as `interview-bot`).

Operator errors (bad configuration, unreachable database, malformed bank files, a refused
command) print one clear line per problem and exit non-zero, never a traceback. A destructive
command asks first (or takes ``--yes``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import ConfigError, Settings, load_settings
from bot.domain.bank import BankValidationError, load_bank
from bot.logs import configure_logging
from bot.storage.db import DatabaseUnavailable

app = typer.Typer(
    help="Deep-learning interview practice bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations and backups.", no_args_is_help=True)
bank_app = typer.Typer(help="The question bank.", no_args_is_help=True)
grades_app = typer.Typer(help="Stored grades.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="Messages waiting for, or refused by, a chat platform.", no_args_is_help=True
)
channels_app = typer.Typer(help="Channels and their schedules.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")
app.add_typer(grades_app, name="grades")
app.add_typer(outbox_app, name="outbox")
app.add_typer(channels_app, name="channels")

try:  # recent typer carries its own copy of click; its exceptions are the ones it raises
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]


class _NeverRaised(Exception):
    pass


#: ``python -m bot`` with no command (or a group with none) shows the help (exit 2).
NO_ARGS_IS_HELP: type[Exception] = getattr(click_errors, "NoArgsIsHelpError", _NeverRaised)

#: Piped output (CI logs, files) gets room for the tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)

EXIT_CONFIG = 2
EXIT_DATABASE = 3


class CommandFailed(Exception):
    """An operator error with a one-line message (raised inside async command bodies)."""


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def bank_errors(exc: BankValidationError) -> typer.Exit:
    """Print every bank error as file:line: field: message; return the exit to raise."""
    for error in exc.errors:
        err.print(str(error), markup=False, highlight=False)
    return fail(f"{len(exc.errors)} error(s) in the question bank")


def settings_or_exit() -> Settings:
    """The settings, with quiet logging for one-shot commands (server mode reconfigures it)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise fail(f"configuration: {exc}", EXIT_CONFIG) from None
    configure_logging(settings, interactive=True)
    return settings


def run_async(coroutine: Coroutine[Any, Any, int | None]) -> int:
    try:
        return asyncio.run(coroutine) or 0
    except DatabaseUnavailable as exc:
        raise fail(str(exc), EXIT_DATABASE) from None
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    except CommandFailed as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        return 130


async def with_app(settings: Settings, body: Callable[[Any], Awaitable[int]]) -> int:
    """Build the BotApp (migrating the schema), run ``body(app)``, always close it."""
    from bot.app import BotApp

    bot = await BotApp.create(settings)
    try:
        return await body(bot)
    finally:
        await bot.close()


# --- the collector at start-up ---------------------------------------------------------------

#: Commands that load the whole app: they keep the collector paused until their modules are in.
LONG_RUNNING = frozenset({"run", "serve"})


def settle_modules() -> None:
    """Move every object alive now out of the garbage collector's sight and turn it on.

    ``python -m bot`` pauses the collector while the modules load (see ``bot/__main__.py``):
    otherwise some 300 collections walk the growing graph of modules, classes and functions
    again and again, about a fifth of a start's CPU time. Those objects live as long as the
    process, so freezing them costs nothing; the little cyclic garbage made while importing is
    frozen with them. Without a pause (the ``interview-bot`` script) this only freezes."""
    gc.freeze()
    gc.enable()


@app.callback()
def _before_any_command(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand not in LONG_RUNNING:
        settle_modules()


# --- run ------------------------------------------------------------------------------------


@app.command()
def run() -> None:
    """Run the bot: server mode for the chat platforms whose settings are set, otherwise
    practice in the terminal."""
    settings = settings_or_exit()
    adapters = settings.chat_adapters
    configure_logging(settings, interactive=not adapters)
    if adapters:
        import bot.runtime

        settle_modules()
        raise typer.Exit(run_async(_serve(settings, adapters)))
    import bot.adapters.console  # noqa: F401  (loaded before the collector turns on)

    settle_modules()
    raise typer.Exit(run_async(_run_console(settings)))


@app.command()
def serve() -> None:
    """Server mode: scheduler, grading worker, delivery, the HTTP server (/healthz, /metrics)
    and the chat adapters whose settings are set (none is fine: a worker replica)."""
    settings = settings_or_exit()
    configure_logging(settings, interactive=False)
    import bot.runtime  # noqa: F401  (loaded before the collector turns on)

    settle_modules()
    raise typer.Exit(run_async(_serve(settings, settings.chat_adapters)))


async def _serve(settings: Settings, adapters: list[str]) -> int:
    from bot.runtime import AdapterUnavailable, serve

    try:
        return await serve(settings, adapters)
    except AdapterUnavailable as exc:
        raise CommandFailed(str(exc)) from None


async def _run_console(settings: Settings) -> int:
    from bot.adapters.console import ConsoleSession

    if "grading_process" not in settings.model_fields_set:  # one player: a thread is enough
        settings = settings.model_copy(update={"grading_process": False})

    return await with_app(settings, lambda bot: ConsoleSession(bot).run())


# --- db -------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the schema (SQLite file or PostgreSQL)."""
    settings = settings_or_exit()
    raise typer.Exit(run_async(_migrate(settings, revision, up=True, confirmed=True)))


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision; default: one step back.")
    ] = "-1",
    yes: Annotated[bool, typer.Option("--yes", help="Confirm dropping data.")] = False,
) -> None:
    """Step the schema back (default: one revision). A step that drops data (below the first
    revision: every table) asks first (or takes --yes) and backs a SQLite file up before."""
    settings = settings_or_exit()
    raise typer.Exit(run_async(_migrate(settings, revision, up=False, confirmed=yes)))


async def _migrate(settings: Settings, revision: str, *, up: bool, confirmed: bool) -> int:
    from alembic.util import CommandError

    from bot.storage import migrate
    from bot.storage.db import check_connection, create_engine

    engine = create_engine(settings.database_url)
    try:
        await check_connection(engine)
        current = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    if not up:
        if current is None:
            raise CommandFailed("the database has no schema to step back from")
        try:
            target = await asyncio.to_thread(migrate.resolve_downgrade_target, current, revision)
        except CommandError as exc:
            raise CommandFailed(f"migration: {str(exc).splitlines()[0]}") from None
        losses = []
        if target is not None:
            losses = await asyncio.to_thread(migrate.downgrade_losses, current, target)
        if target is None or losses:
            if target is None:
                question = "This drops every table and all data in them. Continue?"
            else:
                question = f"This drops, for good: {'; '.join(losses)}. Continue?"
            if not confirmed and not _ask(question):
                raise CommandFailed("downgrade cancelled; nothing changed")
            backup = migrate.backup_sqlite(settings.database_url)
            if backup is not None:
                out.print(f"backed up the database to {backup}")
    action = migrate.upgrade if up else migrate.downgrade
    try:
        await asyncio.to_thread(action, settings.database_url, revision)
    except CommandError as exc:
        raise CommandFailed(f"migration: {str(exc).splitlines()[0]}") from None
    engine = create_engine(settings.database_url)
    try:
        now_at = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    out.print(f"database at revision {now_at or 'base (empty)'} (was {current or 'empty'})")
    return 0


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return typer.confirm(question, default=False)


@db_app.command("backup")
def db_backup(
    to: Annotated[
        Path | None, typer.Option("--to", help="Backup file (default: beside it).")
    ] = None,
) -> None:
    """Back the database up while the bot may be running: SQLite's online backup API, or
    pg_dump for PostgreSQL (restore: copy the file back / pg_restore --clean)."""
    from bot.storage import migrate

    settings = settings_or_exit()
    if to is not None and to.exists():  # never overwrite: it may be the database or a backup
        raise fail(f"{to} already exists; give a new file name (nothing was written)")
    try:
        target = migrate.backup_sqlite(settings.database_url, to)
        if target is None:
            target = migrate.backup_postgres(settings.database_url, to)
    except OSError as exc:
        raise fail(f"backup failed: {exc}") from None
    out.print(f"backed up to {target}")


# --- bank -----------------------------------------------------------------------------------


@bank_app.command("validate")
def bank_validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories (default: the configured bank)."),
    ] = None,
) -> None:
    """Check bank files; every error of every file is reported as file:line: field: message."""
    settings = settings_or_exit()
    try:
        if paths:
            questions = load_bank(*paths).questions
        else:
            from bot.app import load_configured_bank

            questions = load_configured_bank(settings).all_questions()
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    tracks = sorted({question.track.value for question in questions})
    topics = {question.topic for question in questions}
    out.print(
        f"ok: {len(questions)} questions in {len(tracks)} track(s) "
        f"({', '.join(tracks)}) and {len(topics)} topics"
    )


@bank_app.command("stats")
def bank_stats() -> None:
    """Questions per track, topic and difficulty, rubric sizes and seed coverage."""
    from bot.app import load_configured_bank
    from bot.domain.bank import Bank
    from bot.domain.coverage import coverage_summary

    settings = settings_or_exit()
    try:
        banks = load_configured_bank(settings)
    except BankValidationError as exc:
        raise bank_errors(exc) from None
    questions = banks.all_questions()
    levels = ["beginner", "intermediate", "advanced"]
    table = Table(title=f"{len(questions)} questions")
    for column in ["track", "topic", *levels, "total", "LLM-only", "key points"]:
        table.add_column(column, justify="left" if column in {"track", "topic"} else "right")
    totals = dict.fromkeys(levels, 0)
    for track in sorted({question.track for question in questions}):
        in_track = [question for question in questions if question.track == track]
        for topic in sorted({question.topic for question in in_track}):
            subset = [question for question in in_track if question.topic == topic]
            counts = [sum(question.difficulty == level for question in subset) for level in levels]
            for level, count in zip(levels, counts, strict=True):
                totals[level] += count
            sizes = [len(question.key_points) for question in subset]
            table.add_row(
                track.value,
                topic,
                *map(str, counts),
                str(len(subset)),
                str(sum(question.llm_only for question in subset)),
                f"{min(sizes)}-{max(sizes)}",
            )
        table.add_row(
            f"[bold]{track.value}[/bold]", "", "", "", "", f"[bold]{len(in_track)}[/bold]", "", ""
        )
    grand = sum(totals.values())
    table.add_row(
        "[bold]all[/bold]",
        "",
        *(f"{totals[level]} ({100 * totals[level] / max(grand, 1):.0f}%)" for level in levels),
        str(grand),
        str(sum(question.llm_only for question in questions)),
        "",
    )
    out.print(table)
    summary = coverage_summary(settings.questions_dir / "coverage", Bank(banks.builtin.questions))
    if summary:
        coverage = Table(title="seed coverage")
        for column in ["seed", "mapped", "excluded", "total", "missing ids"]:
            coverage.add_column(column)
        for row in summary:
            coverage.add_row(
                row.seed, str(row.mapped), str(row.excluded), str(row.total), str(row.unknown_ids)
            )
        out.print(coverage)


# --- grading --------------------------------------------------------------------------------


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
    if not input.is_file():
        raise fail(f"{input}: not a file (give a JSONL file of answers)")
    raise typer.Exit(run_async(_grade_file(settings, input, output, grader)))


async def _grade_file(settings: Settings, input: Path, output: Path, grader_name: str) -> int:
    from bot.app import build_llm_grader, openai_client
    from bot.grading.base import Grader
    from bot.grading.batch import BatchInputError, grade_jsonl
    from bot.grading.offline import OfflineGrader

    offline = OfflineGrader()
    chosen: Grader = offline
    client = None
    if grader_name != "offline":
        # a one-off batch has no worker around it, so the client retries transient errors itself
        client = openai_client(settings, client_retries=2)
        chosen = build_llm_grader(settings, offline, client=client)
    try:
        summary = await grade_jsonl(input, output, chosen)
    except BatchInputError as exc:
        raise CommandFailed(str(exc)) from None
    except OSError as exc:  # an output that is a folder, under a file, not writable...
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(output) else ""
        raise CommandFailed(f"cannot write {output}: {exc.strerror or exc}{where}") from None
    finally:
        if client is not None:
            await client.close()
    mean = f"{summary.mean_score:.1f}" if summary.mean_score is not None else "-"
    out.print(
        f"graded {summary.graded} answers (failed {summary.failed}, mean score {mean}) -> {output}"
    )
    return 1 if summary.failed else 0


@grades_app.command("requeue")
def grades_requeue() -> None:
    """Re-grade answers whose grade is provisional or whose grading failed (run with the bot)."""
    settings = settings_or_exit()

    async def body(bot: Any) -> int:
        count = await bot.worker.requeue()
        graded = await bot.worker.drain()
        out.print(f"re-queued {count} answers; graded {graded}")
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


@grades_app.command("failed")
def grades_failed() -> None:
    """Answers set aside after every grading attempt failed (the dead letter)."""
    settings = settings_or_exit()

    async def body(bot: Any) -> int:
        answers = await bot.worker.failed()
        if not answers:
            out.print("no failed answers")
            return 0
        table = Table(title=f"{len(answers)} failed answer(s) — `grades requeue` re-grades them")
        for column in ("answer", "member", "submitted", "attempts", "reason"):
            table.add_column(column)
        for answer in answers:
            table.add_row(
                str(answer.id),
                str(answer.member_id),
                f"{answer.submitted_at:%Y-%m-%d %H:%M}",
                str(answer.attempts),
                answer.last_error or "",
            )
        out.print(table)
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


@app.command()
def usage(days: Annotated[int, typer.Option(help="How many days back.")] = 7) -> None:
    """LLM grades, tokens and estimated cost per day and workspace (prices from settings)."""
    from bot.services.costs import usage_by_day

    settings = settings_or_exit()
    if days < 1:
        raise fail(f"--days must be at least 1 (got {days})")

    async def body(bot: Any) -> int:
        rows = await usage_by_day(
            bot.sessions,
            bot.clock.now(),
            days,
            settings.llm_price_input_per_mtok,
            settings.llm_price_output_per_mtok,
        )
        if not rows:
            out.print(f"no LLM grading in the last {days} day(s)")
            return 0
        table = Table(
            title=f"LLM usage at ${settings.llm_price_input_per_mtok}/"
            f"${settings.llm_price_output_per_mtok} per million input/output tokens"
        )
        for column in ("day (UTC)", "workspace", "grades", "input tokens", "output tokens", "cost"):
            table.add_column(column, justify="right" if column not in {"workspace"} else "left")
        for row in rows:
            table.add_row(
                row.day.isoformat(),
                row.workspace,
                str(row.grades),
                f"{row.prompt_tokens:,}",
                f"{row.completion_tokens:,}",
                f"${row.cost:.4f}",
            )
        out.print(table)
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


# --- outbox ---------------------------------------------------------------------------------


@outbox_app.command("list")
def outbox_list(
    dead: Annotated[bool, typer.Option("--dead", help="Only messages given up on.")] = False,
    limit: int = 50,
) -> None:
    """Messages not delivered yet (pending, sending) or given up on (dead)."""
    from bot.services.delivery import list_messages, outbox_depth
    from bot.storage.models import OutboxStatus

    settings = settings_or_exit()
    statuses = (
        [OutboxStatus.DEAD]
        if dead
        else [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD]
    )

    async def body(bot: Any) -> int:
        depth = await outbox_depth(bot.sessions)
        rows = await list_messages(bot.sessions, statuses, limit=limit)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(depth.items()))
        out.print(f"outbox: {summary or 'empty'}")
        if rows:
            table = Table()
            for column in (
                "id",
                "status",
                "platform",
                "what",
                "target",
                "attempts",
                "next try",
                "last error",
            ):
                table.add_column(column)
            for row in rows:
                target = row.channel_external_id or row.member_external_id or ""
                table.add_row(
                    str(row.id),
                    row.status.value,
                    row.platform.value,
                    row.topic,
                    f"{row.workspace_external_id}/{target}",
                    str(row.attempts),
                    f"{row.next_attempt_at:%m-%d %H:%M:%S}",
                    row.last_error or "",
                )
            out.print(table)
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Dead message ids (default: all).")
    ] = None,
) -> None:
    """Put dead messages back in the queue (after fixing what made the platform refuse them)."""
    from bot.services.delivery import dead_ids, retry_dead

    settings = settings_or_exit()

    async def body(bot: Any) -> int:
        if ids:
            missing = sorted(set(ids) - await dead_ids(bot.sessions, ids))
            if missing:
                raise CommandFailed(
                    f"no dead message with id {', '.join(map(str, missing))} "
                    "(see outbox list --dead); nothing re-queued"
                )
        count = await retry_dead(bot.sessions, bot.clock, ids or None)
        out.print(f"re-queued {count} message(s)")
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


# --- channels -------------------------------------------------------------------------------


@channels_app.command("list")
def channels_list() -> None:
    """Every channel's schedule, pause and next post time in its own zone."""
    settings = settings_or_exit()

    async def body(bot: Any) -> int:
        rows = await bot.channels.all_channels()
        if not rows:
            out.print("no channels yet: run /interview config in a channel")
            return 0
        table = Table(title=f"{len(rows)} channel(s)")
        for column in ("platform", "workspace", "channel", "schedule", "track/topics", "next post"):
            table.add_column(column)
        for workspace, view in rows:
            next_post = "—"
            if view.next_post is not None:
                local = view.next_post.astimezone(view.schedule.zone)
                next_post = f"{local:%a %Y-%m-%d %H:%M} {view.schedule.timezone}"
            focus = view.track.value if view.track else "any track"
            if view.topics:
                focus += ": " + ", ".join(view.topics)
            table.add_row(
                workspace.platform.value,
                workspace.name or workspace.external_id,
                view.name or view.external_id,
                view.summary(),
                focus,
                next_post,
            )
        out.print(table)
        return 0

    raise typer.Exit(run_async(with_app(settings, body)))


# --- discord --------------------------------------------------------------------------------

discord_app = typer.Typer(help="The Discord application's commands.", no_args_is_help=True)
app.add_typer(discord_app, name="discord")


@discord_app.command("sync")
def discord_sync(
    guild: Annotated[
        int | None,
        typer.Option("--guild", help="Sync a copy to this guild only (instant, for testing)."),
    ] = None,
) -> None:
    """Register the /interview commands with Discord (globally, or in one guild) and exit."""
    settings = settings_or_exit()
    configure_logging(settings, interactive=True)  # warnings only: the result is one line

    async def body() -> int:
        from bot.adapters.discord.app import DiscordStartError, sync_commands

        try:
            names = await sync_commands(settings, guild)
        except DiscordStartError as exc:
            raise CommandFailed(str(exc)) from None
        where = f"to guild {guild}" if guild is not None else "globally"
        out.print(f"synced {len(names)} command(s) {where}: {', '.join('/' + n for n in names)}")
        return 0

    raise typer.Exit(run_async(body()))


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except SystemExit:
        raise
    except click_errors.UsageError as exc:  # a mistyped command or option: one line, exit 2
        if isinstance(exc, NO_ARGS_IS_HELP):  # the help was the answer
            exc.show()
            raise SystemExit(exc.exit_code) from None
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        message = " ".join(exc.format_message().split())
        err.print(f"[red]error:[/red] {escape(message)}{hint}", markup=True, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except click_errors.ClickException as exc:
        message = " ".join(exc.format_message().split())
        err.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:  # Ctrl-D at a question
        err.print("[red]error:[/red] aborted; nothing changed", markup=True, highlight=False)
        raise SystemExit(1) from None
    except Exception as exc:  # a bug: one line for the operator, the details in the log
        logging.getLogger("bot").debug("unexpected error", exc_info=True)
        err.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            " (run with LOG_LEVEL=DEBUG for the details)",
            markup=True,
            highlight=False,
        )
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
