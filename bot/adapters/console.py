"""The terminal adapter: local practice on the same services the chat adapters use.

It reads from an input stream and writes to an output stream (stdin/stdout by default), so the
tests drive it through real streams. Today's question comes from the local "terminal" channel's
daily post; ``/next`` gives an unscored practice question.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import sys
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot.app import BotApp
from bot.grading.worker import GradedAnswer
from bot.services.answers import AnswerRejected, Receipt
from bot.services.cards import Card, grade_card, leaderboard_card, question_card, stats_card
from bot.services.leaderboard import Period
from bot.storage.models import Platform, QuestionVersion

END_OF_ANSWER = "."
GRADE_WAIT_SECONDS = 180.0
HELP = """Type your answer over as many lines as you like, then a line with a single '.' to send it.
Commands:
  /today        show today's question again
  /next         a practice question (graded, no points)
  /leaderboard  [week|month|all] the leaderboard (default: week)
  /stats        your points, streak and average score
  /help         this help
  /quit         leave (Ctrl-D works too)"""


def render_card(card: Card) -> Panel:
    """The terminal rendering of a card: a rich panel; every text part is escaped."""
    parts = []
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
    if card.footer:
        parts.append(f"[dim]{escape(card.footer)}[/dim]")
    return Panel(
        "\n\n".join(parts) or " ", title=escape(card.title), title_align="left", expand=True
    )


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
        self._waiting: dict[int, asyncio.Future[GradedAnswer]] = {}
        self._current: tuple[QuestionVersion, int | None] | None = None  # question, daily post id
        self._member_id = 0
        self._workspace_id = 0
        self._channel_id = 0

    async def _read_line(self) -> str | None:
        line = await asyncio.to_thread(self._in.readline)
        return None if line == "" else line.rstrip("\n")

    def say(self, text: str = "") -> None:
        self._out.print(text)

    async def _on_graded(self, graded: GradedAnswer) -> None:
        future = self._waiting.get(graded.answer_id)
        if future is not None and not future.done():
            future.set_result(graded)

    async def run(self) -> int:
        app = self._app
        workspace = await app.directory.workspace(Platform.CONSOLE.value, "local", "Terminal")
        channel = await app.directory.channel(workspace.id, "terminal", "terminal")
        member = await app.directory.member(workspace.id, self._user, self._user)
        assert workspace.id and channel.id and member.id
        self._workspace_id, self._channel_id, self._member_id = workspace.id, channel.id, member.id
        app.worker.add_listener(self._on_graded)
        await app.worker.start()
        self.say(
            f"[bold]Interview practice[/bold] — {len(app.bank.questions)} questions, grader: "
            f"{escape(app.worker.grader_name)}. Type /help for commands."
        )
        await self.show_today()
        while True:
            self.say("[dim]answer (end with a line '.') or /command:[/dim]")
            first = await self._read_line()
            if first is None:
                break
            stripped = first.strip()
            if stripped.startswith("/"):
                if not await self.command(stripped):
                    break
                continue
            if not stripped:
                continue
            text = await self._read_answer(first)
            if text is None:
                break
            await self.submit(text)
        self.say("Bye — keep the streak going!")
        return 0

    async def _read_answer(self, first: str) -> str | None:
        lines = [first]
        if first.strip() == END_OF_ANSWER:
            return ""
        while True:
            line = await self._read_line()
            if line is None:
                return "\n".join(lines) if any(item.strip() for item in lines) else None
            if line.strip() == END_OF_ANSWER:
                return "\n".join(lines)
            lines.append(line)

    async def command(self, line: str) -> bool:
        name, _, argument = line.partition(" ")
        name = name.lower()
        if name in {"/quit", "/exit", "/q"}:
            return False
        if name == "/help":
            self.say(escape(HELP))
        elif name == "/today":
            await self.show_today()
        elif name == "/next":
            await self.show_practice()
        elif name == "/leaderboard":
            await self.show_leaderboard(argument.strip() or "week")
        elif name == "/stats":
            await self.show_stats()
        else:
            self.say(f"Unknown command {escape(name)}. Type /help for the list.")
        return True

    async def show_today(self) -> None:
        app = self._app
        await app.daily.open_today(self._channel_id)
        opened = await app.daily.current_post(self._channel_id)
        if opened is None:
            self.say("No question is open right now; /next gives you a practice question.")
            return
        closes = opened.post.closes_at.astimezone().strftime("%a %H:%M")
        card = question_card(
            opened.question.prompt,
            opened.question.topic,
            opened.question.difficulty,
            closes_at_text=closes,
        )
        self._current = (opened.question, opened.post.id)
        self._out.print(render_card(card))

    async def show_practice(self) -> None:
        exclude = [self._current[0].bank_id] if self._current else []
        question = await self._app.practice.next_question(self._member_id, exclude_bank_ids=exclude)
        if question is None:
            self.say("There are no questions in the bank.")
            return
        self._current = (question, None)
        card = question_card(question.prompt, question.topic, question.difficulty)
        card = dataclasses.replace(
            card, title="🧪 Practice question", footer="Practice: graded, no points."
        )
        self._out.print(render_card(card))

    async def submit(self, text: str) -> None:
        if self._current is None:
            self.say("There is no question to answer; type /today or /next.")
            return
        question, post_id = self._current
        try:
            if post_id is not None:
                receipt = await self._app.answers.submit_daily(self._member_id, post_id, text)
            else:
                receipt = await self._app.answers.submit_practice(
                    self._member_id, question.id or 0, text
                )
        except AnswerRejected as rejected:
            self.say(f"[yellow]{escape(rejected.message)}[/yellow]")
            return
        self.say(escape(receipt.message))
        await self._await_grade(receipt, question)

    async def _await_grade(self, receipt: Receipt, question: QuestionVersion) -> None:
        future: asyncio.Future[GradedAnswer] = asyncio.get_running_loop().create_future()
        self._waiting[receipt.answer_id] = future
        view = await self._app.answers.view(receipt.answer_id)
        if view.grade is None:
            try:
                with self._out.status("Grading…"):
                    await asyncio.wait_for(asyncio.shield(future), self._grade_wait)
            except TimeoutError:
                self.say("Still grading; the result will be in /stats when it is ready.")
                return
            finally:
                self._waiting.pop(receipt.answer_id, None)
            view = await self._app.answers.view(receipt.answer_id)
        grade = view.grade
        assert grade is not None
        points = future.result().points if future.done() else None
        card = grade_card(
            score=grade.score,
            verdicts=grade.verdicts,
            feedback=grade.feedback,
            reference=question.reference,
            provisional=grade.provisional,
            points=points,
            flags=grade.flags,
            # the terminal is single-player practice: nobody to pass the rubric to, so the whole
            # result shows at once (chat adapters pass view.rubric_revealed instead)
            rubric_revealed=True,
        )
        self._out.print(render_card(card))

    async def show_leaderboard(self, period_name: str) -> None:
        try:
            period = Period(period_name.lower())
        except ValueError:
            self.say("Use /leaderboard week, /leaderboard month or /leaderboard all.")
            return
        rows = await self._app.leaderboards.leaderboard(self._workspace_id, period)
        self._out.print(render_card(leaderboard_card(period, rows)))

    async def show_stats(self) -> None:
        stats = await self._app.leaderboards.member_stats(self._member_id)
        card = stats_card(stats)
        self._out.print(render_card(card))


def _default_user() -> str:
    try:
        return getpass.getuser() or "you"
    except Exception:
        return "you"
