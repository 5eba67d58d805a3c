"""The terminal adapter: local practice on the same services the chat adapters use.

It reads from an input stream and writes to an output stream (stdin/stdout by default), so the
tests drive it through real streams. The terminal is a one-member workspace ("console") with one
channel whose schedule ``/schedule`` shows and changes (every day at 00:00 by default, so a
question is open whenever you start). Commands are the chat vocabulary with a slash
(``/leaderboard month``), plus ``/next`` for a practice question and ``/quit``.

Cards reach the screen through ``ConsoleNotifier``: the outbox dispatcher hands it the question,
the grade and the reveal exactly as a chat platform would receive them.

Input is read by a daemon thread, so Ctrl-C never waits for a blocked read; Ctrl-D or Ctrl-C in
the middle of an answer leaves without sending anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot.app import BotApp
from bot.domain.answers import AnswerRejected
from bot.services.answers import AnswerTarget
from bot.services.cards import ButtonAction, Card, CardKind
from bot.services.channels import ConfigChange
from bot.services.commands import (
    Command,
    CommandName,
    UsageError,
    config_card,
    parse_command,
    usage_card,
)
from bot.services.delivery import Delivery, in_flight
from bot.services.directory import Actor
from bot.storage.models import DeliveryAction, Platform

END_OF_ANSWER = "."
GRADE_WAIT_SECONDS = 180.0
PREFIX = "/"
WORKSPACE_ID = "local"
CHANNEL_ID = "terminal"
HELP = """Type your answer over as many lines as you like, then a line with a single '.' to send it.
Commands:
  /today              show today's question again
  /next [topic]       a practice question (graded, no points)
  /mock [topic] [level] [length]   a mock interview (resumes one in progress)
  /mock new ...       abandon the one in progress and start again
  /skip · /stop       skip the interview's question · end the interview with its report
  /report             the last interview's report again
  /flag ID reason     report a wrong or unclear question
  /review [on|off]    your due review questions (spaced repetition)
  /dispute N reason   contest the grade of answer N
  /leaderboard [week|month|all]
  /stats              points, streak, freezes, average score, and a progress chart (PNG)
  /streaks            the streak board
  /schedule [days=mon-fri time=08:00 tz=Europe/Berlin window=8h]
                      show or change when today's question opens
  /pause [until=YYYY-MM-DD] · /resume · /skip YYYY-MM-DD
  /help               this help
  /quit               leave (Ctrl-D and Ctrl-C work too)"""
CONSOLE_ALIASES = {
    "next": "practice",
    "schedule": "config",
    "skip": "mock skip",
    "stop": "mock stop",
    "report": "mock report",
    "flag": "report",
}
#: The terminal's own names for the chat commands it renames (``/report`` is the interview's
#: report here), so a usage line never sends the member to a command that does something else.
CONSOLE_NAMES = {
    CommandName.PRACTICE: "next",
    CommandName.CONFIG: "schedule",
    CommandName.REPORT: "flag",
}


def render_card(card: Card, width: int | None = None) -> Panel:
    """The terminal rendering of a card: a rich panel; every text part is escaped. A title too
    long for the panel's top border (``width``) opens the body instead of being cut off."""
    parts = []
    title = card.title
    if width is not None and len(title) > width - 8:
        parts.append(f"[bold]{escape(title)}[/bold]")
        title = ""
    if card.body:
        parts.append(escape(card.body))
    inline: list[str] = []
    for card_field in card.fields:
        if card_field.inline:
            inline.append(f"[bold]{escape(card_field.name)}:[/bold] {escape(card_field.value)}")
            continue
        if inline:
            parts.append("   ".join(inline))
            inline = []
        parts.append(f"[bold]{escape(card_field.name)}[/bold]\n{escape(card_field.value)}")
    if inline:
        parts.append("   ".join(inline))
    if card.deadline is not None:
        parts.append(f"[bold]Closes:[/bold] {card.deadline.astimezone():%a %d %b %H:%M}")
    if card.footer:
        parts.append(f"[dim]{escape(card.footer)}[/dim]")
    return Panel(
        "\n\n".join(parts) or " ", title=escape(title) or None, title_align="left", expand=True
    )


class ConsoleNotifier:
    """Delivers cards to the terminal; a private result (a grade and what follows it in a mock
    interview) waits in ``private`` for the session to show it after the answer it answers."""

    platform = Platform.CONSOLE

    def __init__(self, show: Callable[[Card], None]) -> None:
        self._show = show
        self.private: asyncio.Queue[Card] = asyncio.Queue()

    async def deliver(self, delivery: Delivery) -> str | None:
        if delivery.action is DeliveryAction.PRIVATE:
            await self.private.put(delivery.card)
        else:
            self._show(delivery.card)
        return f"console-{delivery.id}"

    async def edit(self, delivery: Delivery) -> str | None:
        return delivery.parent_ref  # the closed question needs no redraw in a scrolling terminal


class _LineReader:
    """Reads lines in a daemon thread and hands them to the event loop (None at end of input)."""

    def __init__(self, stream: TextIO, loop: asyncio.AbstractEventLoop):
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._stream = stream
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="console-input", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                line = self._stream.readline()
            except (OSError, ValueError):
                line = ""
            value = None if line == "" else line.rstrip("\n")
            with contextlib.suppress(RuntimeError):  # the loop is gone: we are exiting
                self._loop.call_soon_threadsafe(self._queue.put_nowait, value)
            if value is None:
                return

    async def readline(self) -> str | None:
        return await self._queue.get()


class ConsoleSession:
    def __init__(
        self,
        app: BotApp,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user_name: str | None = None,
        grade_wait_seconds: float = GRADE_WAIT_SECONDS,
    ):
        self._app = app
        self._in = stdin or sys.stdin
        self._out = Console(
            file=stdout or sys.stdout, width=100, highlight=False, soft_wrap=False, emoji=True
        )
        self._user = user_name or _default_user()
        self._grade_wait = grade_wait_seconds
        self._notifier = ConsoleNotifier(self.show)
        self._target: AnswerTarget | None = None
        self._actor: Actor | None = None
        self._reader: _LineReader | None = None

    def say(self, text: str = "") -> None:
        self._out.print(text)

    def show(self, card: Card) -> None:
        self._out.print(render_card(card, self._out.width))
        for button in card.buttons:
            if button.action is ButtonAction.ANSWER_DAILY:
                self._target = AnswerTarget.daily(int(button.value))
            elif button.action is ButtonAction.ANSWER_PRACTICE:
                self._target = AnswerTarget.practice(int(button.value))
            elif button.action is ButtonAction.ANSWER_MOCK:
                self._target = AnswerTarget.mock(int(button.value))

    async def _read_line(self) -> str | None:
        assert self._reader is not None
        return await self._reader.readline()

    @property
    def actor(self) -> Actor:
        assert self._actor is not None
        return self._actor

    async def _setup(self) -> None:
        app = self._app
        self._actor = await app.directory.resolve(
            Platform.CONSOLE,
            WORKSPACE_ID,
            self._user,
            channel_external_id=CHANNEL_ID,
            workspace_name="Terminal",
            channel_name="terminal",
            member_name=self._user,
            is_admin=True,  # the terminal's only member owns it
        )
        assert self.actor.channel_id is not None
        view = await app.channels.view(self.actor.channel_id)
        if not view.enabled:  # first run: a question every day, open all day
            await app.channels.update(
                self.actor,
                self.actor.channel_id,
                ConfigChange(
                    enabled=True,
                    days="daily",
                    post_time="00:00",
                    answer_window=23 * 60 + 59,
                    timezone=app.settings.default_timezone,
                ),
            )
        await app.start([self._notifier], schedule=False, grade=True)  # one process

    async def run(self) -> int:
        self._reader = _LineReader(self._in, asyncio.get_running_loop())
        await self._setup()
        app = self._app
        self.say(
            f"[bold]Interview practice[/bold] — {len(app.banks.all_questions())} questions, "
            f"grader: {escape(app.worker.grader_name)}. Type /help for commands."
        )
        try:
            await self.show_today()
            while True:
                self.say("[dim]answer (end with a line '.') or /command:[/dim]")
                first = await self._read_line()
                if first is None:
                    break
                stripped = first.strip()
                if stripped.startswith(PREFIX):
                    if not await self.command(stripped):
                        break
                    continue
                if not stripped:
                    continue
                text = await self._read_answer(first)
                if text is None:
                    self.say("Left before the answer was sent: nothing was submitted.")
                    break
                await self.submit(text)
        except asyncio.CancelledError:  # Ctrl-C
            self.say("\nInterrupted: nothing was submitted.")
            self.say("Bye — keep the streak going!")
            raise
        self.say("Bye — keep the streak going!")
        return 0

    async def _read_answer(self, first: str) -> str | None:
        """The answer's lines up to a line holding '.'; None when input ends first."""
        lines = [first]
        if first.strip() == END_OF_ANSWER:
            return ""
        while True:
            line = await self._read_line()
            if line is None:
                return None
            if line.strip() == END_OF_ANSWER:
                return "\n".join(lines)
            lines.append(line)

    async def command(self, line: str) -> bool:
        """Run a slash command; False means leave."""
        name, _, rest = line[len(PREFIX) :].partition(" ")
        name = name.lower()
        if name in {"quit", "exit", "q"}:
            return False
        if name == "help":
            self.say(escape(HELP))
            return True
        if name == "today":
            await self.show_today()
            return True
        # a bare /skip skips the interview's question; /skip YYYY-MM-DD is a holiday
        alias = name if name == "skip" and rest.strip() else CONSOLE_ALIASES.get(name, name)
        try:
            command = parse_command(f"{alias} {rest}")
        except UsageError:
            self.say(f"Unknown command /{escape(name)}. Type /help for the list.")
            return True
        await self._run_command(command)
        await self._show_private()  # e.g. the report after /stop
        return True

    async def _run_command(self, command: Command) -> None:
        app = self._app
        reply = await app.commands.run(self.actor, command)
        if reply.config_form is not None:
            assert self.actor.channel_id is not None
            view = await app.channels.view(self.actor.channel_id)
            self.show(config_card(view, "🗓️ Your practice schedule"))
            self.say("[dim]Change it with /schedule days=mon-fri time=08:00 tz=Europe/Berlin[/dim]")
        for card in reply.cards:
            if card.kind is CardKind.ERROR and card.body.startswith("Usage: /interview"):
                card = usage_card(card.title.removeprefix("⚠️ "), command.name, PREFIX)
                name = CONSOLE_NAMES.get(command.name)
                if name is not None:
                    usage = card.body.removeprefix(f"Usage: {PREFIX}{command.name.value}")
                    card = card.model_copy(update={"body": f"Usage: {PREFIX}{name}{usage}"})
            self.show(card)
            self._save_attachments(card)

    def _save_attachments(self, card: Card) -> None:
        """Files that chat platforms attach (a chart, a transcript) go under ./data."""
        for attachment in card.attachments:
            folder = Path("data")
            folder.mkdir(parents=True, exist_ok=True)
            stem, dot, suffix = attachment.filename.rpartition(".")
            path = folder / f"{stem}-{self._user}{dot}{suffix}"
            path.write_bytes(attachment.data)
            self.say(f"[dim]{escape(attachment.description or attachment.filename)}: {path}[/dim]")

    async def show_today(self) -> None:
        app = self._app
        assert self.actor.channel_id is not None
        if await app.daily.open_due(self.actor.channel_id) is not None:
            await self._settle()  # the new question arrives like a channel post
            return
        await self._run_command(Command(CommandName.TODAY))

    async def submit(self, text: str) -> None:
        if self._target is None:
            self.say("There is no question to answer; type /today or /next.")
            return
        app = self._app
        try:
            form = await app.answers.form(self.actor, self._target)
            if form.previous is not None and not await self._confirm(form.note):
                self.say("Not sent; your earlier answer stands.")
                return
            receipt = await app.answers.submit(self.actor, self._target, text)
        except AnswerRejected as rejected:
            self.say(f"[yellow]{escape(rejected.message)}[/yellow]")
            return
        self.say(escape(receipt.message))
        await self._await_grade()

    async def _confirm(self, note: str) -> bool:
        self.say(f"[yellow]{escape(note)}[/yellow] Send it? {escape('[y/N]')}")
        reply = await self._read_line()
        return reply is not None and reply.strip().lower() in {"y", "yes"}

    async def _await_grade(self) -> None:
        try:
            with self._out.status("Grading…"):
                card = await asyncio.wait_for(self._notifier.private.get(), self._grade_wait)
        except TimeoutError:
            self.say("Still grading; the result will show here when it is ready.")
            return
        self.show(card)
        self._save_attachments(card)
        await self._show_private()  # what follows a mock answer: the next question or the report

    async def _show_private(self) -> None:
        """Show the private cards that follow (a mock interview's next question or report).
        The background dispatcher may be sending one right now: wait until no message for the
        terminal is in flight, so the prompt never comes before the question it is for."""
        await self._settle()
        while not self._notifier.private.empty():
            card = self._notifier.private.get_nowait()
            self.show(card)
            self._save_attachments(card)

    async def _settle(self) -> None:
        """Wait until no message for the terminal is being sent or due: the background
        dispatcher may hold one (claimed, not yet shown) when a drain returns."""
        app = self._app
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grade_wait
        while True:
            await app.dispatcher.drain()
            busy = await in_flight(app.sessions, Platform.CONSOLE, app.clock.now())
            if not busy or loop.time() > deadline:
                return
            await asyncio.sleep(0.02)


def _default_user() -> str:
    try:
        return getpass.getuser() or "you"
    except Exception:
        return "you"
