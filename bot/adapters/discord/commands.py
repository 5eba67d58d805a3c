"""The ``/interview`` application command group: one subcommand per word of the shared
vocabulary (``bot.services.commands``), each mapping its Discord options onto a ``Command`` and
rendering the ``Reply``.

Admin subcommands (``config``, ``pause``, ``resume``, ``skip``, ``queue``, ``admin``) are checked in code
(Manage Server or Administrator, in a server) before anything runs, and the services refuse a
non-admin again. Discord applies ``default_member_permissions`` to a top-level command only (it
ignores it on subcommands), so it cannot hide one subcommand of a group that every member uses;
the check in code is what enforces it.

Autocomplete: practice topics and tracks from the workspace's catalogue, IANA time zones, bank
question ids (by id or prompt). Nothing here holds a rule of the game.
"""

from __future__ import annotations

import time
import zoneinfo
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.adapters.discord.interactions import (
    Responder,
    actor_for,
    adapter_of,
    is_manager,
    reply_context_of,
    workspace_of,
)
from bot.adapters.discord.views import custom_question_modal, run_command
from bot.domain.bank import Difficulty, Track
from bot.services.cards import Card, CardKind, error_card
from bot.services.commands import MAX_ROW_ID, Command, CommandName
from bot.services.directory import Actor
from bot.services.disputes import MAX_REASON

if TYPE_CHECKING:
    from bot.adapters.discord.app import DiscordAdapter

CHOICES_LIMIT = 25
CHOICE_NAME_LIMIT = 100
CATALOGUE_SECONDS = 60.0
POSTABLE_CHANNELS = (discord.ChannelType.text, discord.ChannelType.news)
#: Discord's client refuses a number above the largest row id (a pasted message id) in an option
#: that names an answer or a queue entry.
RowId = app_commands.Range[int, 1, MAX_ROW_ID]


class NotInServer(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(
            "Channel settings are changed in a server channel, not in a direct message."
        )


class NeedsManageServer(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__(
            "Only members with the Manage Server permission can change the channel's settings."
        )


def manage_server(interaction: discord.Interaction) -> bool:
    """The check in code behind every admin subcommand."""
    if interaction.guild_id is None:
        raise NotInServer()
    if not is_manager(interaction):
        raise NeedsManageServer()
    return True


admin_only = app_commands.check(manage_server)


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=name[:CHOICE_NAME_LIMIT], value=value[:CHOICE_NAME_LIMIT])


def matching(options: list[tuple[str, str]], current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 choices containing ``current`` (names starting with it first)."""
    needle = current.strip().lower()
    starts = [item for item in options if item[0].lower().startswith(needle)]
    contains = [item for item in options if needle in item[0].lower() and item not in starts]
    return [_choice(name, value) for name, value in (starts + contains)[:CHOICES_LIMIT]]


class Catalogue:
    """Autocomplete data, cached per workspace for a minute (choices must come back fast)."""

    def __init__(self) -> None:
        self._topics: dict[str, tuple[float, list[str]]] = {}
        self.timezones = sorted(zoneinfo.available_timezones())

    async def topics(self, adapter: DiscordAdapter, workspace: str) -> list[str]:
        cached = self._topics.get(workspace)
        if cached is not None and time.monotonic() - cached[0] < CATALOGUE_SECONDS:
            return cached[1]
        catalogue = await adapter.app.practice.catalogue(f"discord:{workspace}")
        names = sorted({topic for topics in catalogue.values() for topic in topics})
        names += sorted(track.value for track in catalogue)
        self._topics[workspace] = (time.monotonic(), names)
        return names

    def questions(self, adapter: DiscordAdapter, workspace: str) -> list[tuple[str, str]]:
        """(label, bank id) of the workspace's questions; the label starts with the id and goes
        on with the prompt, so typing either finds it."""
        banks = adapter.app.banks.banks
        found = []
        for scope in ("", f"discord:{workspace}"):
            bank = banks.get(scope)
            if bank is None:
                continue
            for question in bank.questions:
                label = f"{question.id} · {question.difficulty.value} · {question.prompt}"
                found.append((label, question.id))
        return sorted(found)


async def topic_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    adapter = adapter_of(interaction)
    names = await adapter.catalogue.topics(adapter, workspace_of(interaction))
    return matching([(name, name) for name in names], current)


async def timezone_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    zones = adapter_of(interaction).catalogue.timezones
    return matching([(zone, zone) for zone in zones], current)


async def question_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Bank ids for admins (queue, admin disable)."""
    if not is_manager(interaction):
        return []
    return await any_question_autocomplete(interaction, current)


async def any_question_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Bank ids for everyone (report a question)."""
    adapter = adapter_of(interaction)
    return matching(adapter.catalogue.questions(adapter, workspace_of(interaction)), current)


DIFFICULTIES = [app_commands.Choice(name=level.value, value=level.value) for level in Difficulty]
PERIODS = [
    app_commands.Choice(name="this week", value="week"),
    app_commands.Choice(name="this month", value="month"),
    app_commands.Choice(name="all time", value="all"),
]
CADENCES = [app_commands.Choice(name=value, value=value) for value in ("daily", "weekly")]
TRACK_CHOICES = [app_commands.Choice(name="any track", value="any")] + [
    app_commands.Choice(name=track.value, value=track.value) for track in Track
]
ON_OFF = [app_commands.Choice(name="on", value="on"), app_commands.Choice(name="off", value="off")]
MOCK_ACTIONS = [
    app_commands.Choice(name="start (or resume the one in progress)", value="start"),
    app_commands.Choice(name="new (abandon the one in progress)", value="new"),
    app_commands.Choice(name="skip this question", value="skip"),
    app_commands.Choice(name="stop, with the report", value="stop"),
    app_commands.Choice(name="report of the last interview", value="report"),
]
ADMIN_ACTIONS = [
    app_commands.Choice(name="list open disputes and reports", value="list"),
    app_commands.Choice(name="override a grade (answer, score, reason)", value="override"),
    app_commands.Choice(name="disable a question (question, reason)", value="disable"),
    app_commands.Choice(name="audit log", value="audit"),
]


def build_group() -> app_commands.Group:
    """The ``/interview`` group (needs no ``BotApp``: ``discord sync`` builds it offline)."""
    group = app_commands.Group(
        name="interview",
        description="Daily interview questions, practice, leaderboards and streaks",
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )

    @group.command(name="today", description="The channel's open question, with the Answer button")
    async def today(interaction: discord.Interaction) -> None:
        await run_command(interaction, Command(CommandName.TODAY))

    @group.command(name="practice", description="A private practice question (no points)")
    @app_commands.describe(
        topic="A topic or a track", difficulty="beginner, intermediate or advanced"
    )
    @app_commands.autocomplete(topic=topic_autocomplete)
    @app_commands.choices(difficulty=DIFFICULTIES)
    async def practice(
        interaction: discord.Interaction,
        topic: str | None = None,
        difficulty: app_commands.Choice[str] | None = None,
    ) -> None:
        args = tuple(value for value in (topic, difficulty.value if difficulty else None) if value)
        await run_command(interaction, Command(CommandName.PRACTICE, args=args))

    @group.command(name="leaderboard", description="The channel's and the server's leaderboards")
    @app_commands.choices(period=PERIODS)
    async def leaderboard(
        interaction: discord.Interaction, period: app_commands.Choice[str] | None = None
    ) -> None:
        args = (period.value,) if period else ()
        await run_command(interaction, Command(CommandName.LEADERBOARD, args=args))

    @group.command(name="streaks", description="The channel's longest current streaks")
    async def streaks(interaction: discord.Interaction) -> None:
        await run_command(interaction, Command(CommandName.STREAKS))

    @group.command(name="stats", description="Points, rank, streak, freezes and average score")
    @app_commands.describe(member="Whose stats (yours when empty)")
    async def stats(interaction: discord.Interaction, member: discord.User | None = None) -> None:
        if member is None:
            await run_command(interaction, Command(CommandName.STATS))
            return

        async def remember_name(actor: Actor) -> None:
            app = adapter_of(interaction).app
            await app.directory.member(actor.workspace_id, str(member.id), member.display_name)

        await run_command(
            interaction,
            Command(CommandName.STATS, member_external_id=str(member.id)),
            before=remember_name,
        )

    @group.command(name="config", description="The channel's daily question settings (admins)")
    @app_commands.describe(
        channel="The channel to configure (this one when empty)",
        enabled="Post a daily question here",
        post_time="Local time of the question, HH:MM",
        timezone="IANA time zone, e.g. Europe/Berlin",
        days="mon-fri, every day, or mon,wed,fri",
        cadence="daily (every chosen day) or weekly (the first chosen day)",
        window="How long answers score: 90m, 8h, 23h, 2d",
        track="The track questions come from",
        topics="Comma-separated topics (empty: all)",
    )
    @app_commands.rename(post_time="time")
    @app_commands.autocomplete(timezone=timezone_autocomplete)
    @app_commands.choices(cadence=CADENCES, track=TRACK_CHOICES)
    @admin_only
    async def config(
        interaction: discord.Interaction,
        channel: app_commands.AppCommandChannel | None = None,
        enabled: bool | None = None,
        post_time: str | None = None,
        timezone: str | None = None,
        days: str | None = None,
        cadence: app_commands.Choice[str] | None = None,
        window: str | None = None,
        track: app_commands.Choice[str] | None = None,
        topics: str | None = None,
    ) -> None:
        if channel is not None and channel.type not in POSTABLE_CHANNELS:
            await Responder(interaction, workspace_of(interaction)).send_cards(
                [error_card("Pick a text or announcement channel.")]
            )
            return
        options = {
            key: value
            for key, value in (
                ("time", post_time),
                ("tz", timezone),
                ("days", days),
                ("cadence", cadence.value if cadence else None),
                ("window", window),
                ("track", track.value if track else None),
                ("topics", topics),
            )
            if value is not None
        }
        args = () if enabled is None else ("on" if enabled else "off",)
        await run_command(
            interaction,
            Command(CommandName.CONFIG, args=args, options=options),
            channel_id=channel.id if channel is not None else None,
            channel_name=channel.name if channel is not None else None,
        )

    @group.command(name="pause", description="Pause the channel's question (admins)")
    @app_commands.describe(until="First date it posts again, YYYY-MM-DD (empty: until resumed)")
    @admin_only
    async def pause(
        interaction: discord.Interaction, until: str | None = None, reason: str | None = None
    ) -> None:
        options = {"until": until} if until else {}
        args = tuple((reason or "").split())
        await run_command(interaction, Command(CommandName.PAUSE, args=args, options=options))

    @group.command(name="resume", description="Resume a paused channel (admins)")
    @admin_only
    async def resume(interaction: discord.Interaction) -> None:
        await run_command(interaction, Command(CommandName.RESUME))

    @group.command(name="skip", description="Holidays with no question (admins)")
    @app_commands.describe(dates="One or more dates, YYYY-MM-DD", remove="Remove these dates")
    @admin_only
    async def skip(interaction: discord.Interaction, dates: str, remove: bool = False) -> None:
        words = tuple(dates.replace(",", " ").split())
        args = ("remove", *words) if remove else words
        await run_command(interaction, Command(CommandName.SKIP, args=args))

    @group.command(name="queue", description="Choose coming questions (admins)")
    @app_commands.describe(
        question="A bank question id (empty: show the queue)",
        date="For this date, YYYY-MM-DD (empty: the next post)",
        remove="Remove the queued entry with this number",
        custom="Write a one-off question of your own (opens a form)",
    )
    @app_commands.autocomplete(question=question_autocomplete)
    @admin_only
    async def queue(
        interaction: discord.Interaction,
        question: str | None = None,
        date: str | None = None,
        remove: RowId | None = None,
        custom: bool = False,
    ) -> None:
        if custom:
            actor = await actor_for(interaction)
            if actor.channel_id is None:
                return
            await Responder(interaction, workspace_of(interaction)).send_modal(
                custom_question_modal(actor.channel_id, date)
            )
            return
        if remove is not None:
            args: tuple[str, ...] = ("remove", str(remove))
        elif question:
            args = (question, date) if date else (question,)
        else:
            args = ("list",)
        await run_command(interaction, Command(CommandName.QUEUE, args=args))

    @group.command(name="nudges", description="A private reminder before the question closes")
    @app_commands.choices(state=ON_OFF)
    async def nudges(interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
        await run_command(interaction, Command(CommandName.NUDGES, args=(state.value,)))

    @group.command(name="mock", description="A private mock interview that adapts to you")
    @app_commands.describe(
        action="start (default), new, skip, stop or report",
        topic="A topic or a track",
        difficulty="The level to start at",
        length="How many questions",
    )
    @app_commands.choices(action=MOCK_ACTIONS, difficulty=DIFFICULTIES)
    @app_commands.autocomplete(topic=topic_autocomplete)
    async def mock(
        interaction: discord.Interaction,
        action: app_commands.Choice[str] | None = None,
        topic: str | None = None,
        difficulty: app_commands.Choice[str] | None = None,
        length: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        chosen = action.value if action else "start"
        args: tuple[str, ...] = (chosen,)
        if chosen in ("start", "new"):
            extra = (topic, difficulty.value if difficulty else None, length and str(length))
            args += tuple(value for value in extra if value)
        command = Command(CommandName.MOCK, args=args, reply_context=reply_context_of(interaction))
        await run_command(interaction, command)

    @group.command(name="review", description="Your due review questions (spaced repetition)")
    @app_commands.describe(state="Turn spaced repetition on or off (empty: your due questions)")
    @app_commands.choices(state=ON_OFF)
    async def review(
        interaction: discord.Interaction, state: app_commands.Choice[str] | None = None
    ) -> None:
        args = (state.value,) if state else ()
        await run_command(interaction, Command(CommandName.REVIEW, args=args))

    @group.command(name="dispute", description="Contest a grade (once per answer)")
    @app_commands.describe(answer="The answer number on your grade", reason="Why it is wrong")
    async def dispute(
        interaction: discord.Interaction,
        answer: RowId,
        reason: app_commands.Range[str, 1, MAX_REASON],
    ) -> None:
        command = Command(
            CommandName.DISPUTE,
            args=(str(answer), *reason.split()),
            reply_context=reply_context_of(interaction),
        )
        await run_command(interaction, command)

    @group.command(name="report", description="Flag a wrong or unclear question")
    @app_commands.describe(question="The question's id", reason="What is wrong with it")
    @app_commands.autocomplete(question=any_question_autocomplete)
    async def report(
        interaction: discord.Interaction,
        question: str,
        reason: app_commands.Range[str, 1, MAX_REASON],
    ) -> None:
        command = Command(CommandName.REPORT, args=(question, *reason.split()))
        await run_command(interaction, command)

    @group.command(name="admin", description="Disputes, reports, grade overrides (admins)")
    @app_commands.describe(
        action="list (default), override, disable or audit",
        answer="override: the answer number",
        score="override: the new score, 0-100",
        question="disable: the question's id",
        reason="override and disable: why (kept in the audit log)",
    )
    @app_commands.choices(action=ADMIN_ACTIONS)
    @app_commands.autocomplete(question=question_autocomplete)
    @admin_only
    async def admin(
        interaction: discord.Interaction,
        action: app_commands.Choice[str] | None = None,
        answer: RowId | None = None,
        score: app_commands.Range[int, 0, 100] | None = None,
        question: str | None = None,
        reason: app_commands.Range[str, 1, MAX_REASON] | None = None,
    ) -> None:
        chosen = action.value if action else "list"
        words = (reason or "").split()
        # each option keeps its place: when one is missing the service says what it needs,
        # rather than taking the reason's first word for it (a number in the reason became
        # the answer or the score of an override)
        if chosen == "override":
            complete = answer is not None and score is not None
            args: tuple[str, ...] = (
                ("override", str(answer), str(score), *words) if complete else ("override",)
            )
        elif chosen == "disable":
            args = ("disable", question, *words) if question else ("disable",)
        else:
            args = (chosen,)
        await run_command(interaction, Command(CommandName.ADMIN, args=args))

    @group.command(name="help", description="What each /interview command does")
    async def help_(interaction: discord.Interaction) -> None:
        await Responder(interaction, workspace_of(interaction)).send_cards([help_card(group)])

    return group


def help_card(group: app_commands.Group) -> Card:
    """The subcommands with their options, as Discord shows them (built from the group)."""
    lines = []
    for command in group.commands:
        if not isinstance(command, app_commands.Command):
            continue
        params = " ".join(
            f"{parameter.display_name}:" if parameter.required else f"[{parameter.display_name}]"
            for parameter in command.parameters
        )
        usage = f"/{group.name} {command.name}" + (f" {params}" if params else "")
        lines.append(f"`{usage}` — {command.description}")
    return Card(
        kind=CardKind.HELP,
        title="🧠 Interview practice — commands",
        body="\n".join(lines),
        footer="Answers are private: the Answer button opens a form only you see.",
        private=True,
    )
