"""The ``/interview`` vocabulary, shared by every adapter: parsing a typed command line, and
running each subcommand to the cards the member sees.

Slack passes the text after ``/interview``; Discord maps its options onto the same ``Command``;
the terminal maps ``/leaderboard month`` onto it too. So a rule of the game (who may configure a
channel, what ``today`` does in a channel with no schedule, which board a member sees) lives here
once, and adapters only render the reply.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.bank import Difficulty, Track
from bot.domain.text import without_control_characters
from bot.services.cards import (
    Attachment,
    Card,
    CardField,
    CardKind,
    error_card,
    leaderboard_card,
    notice_card,
    practice_card,
    question_card,
    stats_card,
)
from bot.services.channels import (
    ChannelSettings,
    ChannelView,
    ConfigChange,
    NotAllowed,
    SettingsRejected,
    window_text,
)
from bot.services.charts import progress_png
from bot.services.daily import DailyService
from bot.services.directory import Actor, Directory
from bot.services.disputes import DisputeRefused, Disputes, open_items_card
from bot.services.interviews import InterviewError, MockInterviews
from bot.services.leaderboard import LeaderboardService, Period
from bot.services.practice import PracticeService
from bot.services.review import SpacedRepetition


class CommandName(StrEnum):
    TODAY = "today"
    PRACTICE = "practice"
    LEADERBOARD = "leaderboard"
    STREAKS = "streaks"
    STATS = "stats"
    CONFIG = "config"
    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    QUEUE = "queue"
    NUDGES = "nudges"
    MOCK = "mock"
    REVIEW = "review"
    DISPUTE = "dispute"
    REPORT = "report"
    ADMIN = "admin"
    HELP = "help"


#: One line per subcommand (arguments in brackets are optional).
USAGE: dict[CommandName, str] = {
    CommandName.TODAY: "today — the channel's open question, with the Answer button",
    CommandName.PRACTICE: "practice [topic or track] [beginner|intermediate|advanced] — a private "
    "practice question (no points)",
    CommandName.LEADERBOARD: "leaderboard [week|month|all] — the channel's and the workspace's "
    "leaderboards",
    CommandName.STREAKS: "streaks — the channel's longest current streaks",
    CommandName.STATS: "stats [@member] — points, rank, streak, freezes and average score",
    CommandName.CONFIG: "config [time=09:30 tz=Europe/Berlin days=mon-fri cadence=daily|weekly "
    "window=8h track=... topics=a,b on|off] — the channel's schedule (admins)",
    CommandName.PAUSE: "pause [until=YYYY-MM-DD] [reason] — pause the channel's question (admins)",
    CommandName.RESUME: "resume — resume a paused channel (admins)",
    CommandName.SKIP: "skip YYYY-MM-DD [...] | skip remove YYYY-MM-DD — holidays with no "
    "question (admins)",
    CommandName.QUEUE: "queue [list] | queue <question-id> [YYYY-MM-DD] | queue custom "
    "[YYYY-MM-DD] | queue remove <n> — choose coming questions, or write your own (admins)",
    CommandName.NUDGES: "nudges on|off — a private reminder before the question closes when you "
    "have a streak to keep",
    CommandName.MOCK: "mock start [topic or track] [level] [length] | mock skip | mock stop | "
    "mock new | mock report — a private mock interview",
    CommandName.REVIEW: "review [on|off] — your due review questions (spaced repetition)",
    CommandName.DISPUTE: "dispute <answer number> <reason> — contest a grade (once per answer)",
    CommandName.REPORT: "report <question id> <reason> — flag a wrong or unclear question",
    CommandName.ADMIN: "admin | admin override <answer> <score> <reason> | admin disable "
    "<question id> <reason> | admin audit — disputes, reports and fixes (admins)",
    CommandName.HELP: "help — this list",
}

CONFIG_KEYS = {
    "time": "post_time",
    "at": "post_time",
    "tz": "timezone",
    "timezone": "timezone",
    "zone": "timezone",
    "days": "days",
    "cadence": "cadence",
    "window": "answer_window",
    "track": "track",
    "topics": "topics",
    "topic": "topics",
}


#: The largest row id the database holds (PostgreSQL's integer): a larger number typed as an
#: answer or queue-entry number (a pasted message id) names nothing.
MAX_ROW_ID = 2**31 - 1


def row_id(text: str) -> int | None:
    """The row id a member typed ("12" or "#12"), or None when it is not one: digits only
    (``²`` is a digit to Python but no number), within the database's integer."""
    digits = text.lstrip("#")
    if not digits.isdecimal():
        return None
    value = int(digits)
    return value if 0 < value <= MAX_ROW_ID else None


class UsageError(ValueError):
    """A command line that does not parse; the message says how to write it."""


@dataclass(frozen=True)
class Command:
    name: CommandName
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    #: The platform id of a member the command is about (``stats @someone``).
    member_external_id: str | None = None
    #: What the adapter needs to reach the member privately later (mock interview turns).
    reply_context: dict[str, Any] = field(default_factory=dict)


_SLACK_USER = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_DISCORD_USER = re.compile(r"^<@!?(\d+)>$")


def parse_command(text: str) -> Command:
    """``leaderboard month``, ``config time=09:30 days=mon-fri``, ``stats <@U123>``..."""
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.split()
    if not words:
        return Command(CommandName.HELP)
    head, rest = words[0].lower().lstrip("/"), words[1:]
    aliases = {
        "board": "leaderboard",
        "lb": "leaderboard",
        "next": "practice",
        "top": "leaderboard",
    }
    head = aliases.get(head, head)
    try:
        name = CommandName(head)
    except ValueError:
        raise UsageError(f"Unknown command '{head}'.") from None
    options: dict[str, str] = {}
    args: list[str] = []
    member: str | None = None
    for word in rest:
        match = _SLACK_USER.match(word) or _DISCORD_USER.match(word)
        if match:
            member = match.group(1)
        elif "=" in word and name in (CommandName.CONFIG, CommandName.PAUSE):
            key, _, value = word.partition("=")
            options[key.strip().lower()] = value.strip()
        else:
            args.append(word)
    return Command(name, tuple(args), options, member)


@dataclass(frozen=True)
class ConfigForm:
    """The channel settings form an adapter shows (a modal), with the current values."""

    channel_id: int
    channel_name: str
    enabled: bool
    post_time: str
    timezone: str
    days: str
    cadence: str
    answer_window: str
    track: str
    topics: str
    tracks: tuple[str, ...]
    topics_by_track: dict[str, tuple[str, ...]]
    #: Why the channel's latest question could not be posted ("" when it was).
    delivery_problem: str = ""


#: What the custom question form starts with: a valid question in the bank's schema.
CUSTOM_QUESTION_TEMPLATE = """\
id: team-incident-review
topic: evaluation
difficulty: intermediate
prompt: Our model's accuracy dropped after last week's release. How do you find out why?
reference: >-
  Compare the training and serving data for drift, check the release diff and the feature
  pipeline, slice the errors by segment, and roll back if the cause is not found quickly.
key_points:
  - text: compare training and serving data for drift
    weight: 4
  - text: check the release diff and the feature pipeline
    weight: 3
  - text: slice errors by segment and roll back if needed
    weight: 3
"""


@dataclass(frozen=True)
class QuestionForm:
    """The form for writing a one-off question (YAML in the bank's schema) to queue in a
    channel; the adapter sends its submission to ``InterviewCommands.queue_custom``."""

    channel_id: int
    for_date: str = ""
    template: str = CUSTOM_QUESTION_TEMPLATE


@dataclass(frozen=True)
class Reply:
    """What a command returns: cards to show (each says whether it is private), or a form to
    open (the adapter then sends the form's submission to ``apply_config`` or
    ``queue_custom``)."""

    cards: tuple[Card, ...] = ()
    config_form: ConfigForm | None = None
    question_form: QuestionForm | None = None


def help_card(prefix: str = "/interview ") -> Card:
    lines = [f"`{prefix}{usage}`" for usage in USAGE.values()]
    return Card(
        kind=CardKind.HELP,
        title="🧠 Interview practice — commands",
        body="\n".join(lines),
        footer="Answers are private: the Answer button opens a form only you see.",
        private=True,
    )


def usage_card(message: str, name: CommandName | None = None, prefix: str = "/interview ") -> Card:
    usage = f"Usage: {prefix}{USAGE[name]}" if name else f"Try {prefix}help for the list."
    return Card(kind=CardKind.ERROR, title="⚠️ " + message, body=usage, private=True)


def config_card(view: ChannelView, title: str = "⚙️ Channel settings") -> Card:
    schedule = view.schedule
    next_post = "—"
    if view.next_post is not None:
        next_post = f"{view.next_post.astimezone(schedule.zone):%a %d %b %H:%M} {schedule.timezone}"
    fields = [
        CardField(name="Daily question", value="on" if view.enabled else "off", inline=True),
        CardField(name="Days", value=view.days_text, inline=True),
        CardField(name="Cadence", value=schedule.cadence.value, inline=True),
        CardField(
            name="Time", value=f"{schedule.post_time:%H:%M} {schedule.timezone}", inline=True
        ),
        CardField(name="Answer window", value=window_text(schedule.answer_window), inline=True),
        CardField(name="Next post", value=next_post, inline=True),
        CardField(name="Track", value=view.track.value if view.track else "any", inline=True),
        CardField(name="Topics", value=", ".join(view.topics) or "all", inline=True),
    ]
    if view.delivery_problem:
        fields.append(
            CardField(
                name="⚠️ The last question could not be posted",
                value=f"{view.delivery_problem[:1].upper()}{view.delivery_problem[1:]}.",
            )
        )
    if schedule.paused:
        until = schedule.paused_until.isoformat() if schedule.paused_until else "resumed"
        reason = f" ({view.pause_reason})" if view.pause_reason else ""
        fields.append(CardField(name="Paused", value=f"until {until}{reason}"))
    if schedule.skip_dates:
        fields.append(
            CardField(
                name="Skip dates",
                value=", ".join(day.isoformat() for day in sorted(schedule.skip_dates)),
            )
        )
    if view.queue:
        fields.append(
            CardField(
                name="Queue",
                value="\n".join(
                    f"{entry.queue_id}. {entry.bank_id}"
                    f"{' (custom)' if entry.custom else ''}"
                    f" — {entry.for_date.isoformat() if entry.for_date else 'next post'}"
                    for entry in view.queue
                ),
            )
        )
    return Card(kind=CardKind.CONFIG, title=title, fields=tuple(fields), private=True)


class InterviewCommands:
    """Runs ``/interview`` subcommands for an actor; every result is a ``Reply``."""

    def __init__(
        self,
        *,
        directory: Directory,
        daily: DailyService,
        practice: PracticeService,
        leaderboards: LeaderboardService,
        channels: ChannelSettings,
        interviews: MockInterviews | None = None,
        review: SpacedRepetition | None = None,
        disputes: Disputes | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        prefix: str = "/interview ",
    ):
        self._directory = directory
        self._daily = daily
        self._practice = practice
        self._leaderboards = leaderboards
        self._channels = channels
        self._interviews = interviews
        self._review = review
        self._disputes = disputes
        self._sessions = sessions
        self.prefix = prefix

    async def run_text(
        self, actor: Actor, text: str, *, reply_context: dict[str, Any] | None = None
    ) -> Reply:
        """Run a typed command line; ``reply_context`` is what the adapter needs to reach the
        member privately later (a mock interview's next questions)."""
        try:
            command = parse_command(text)
        except UsageError as exc:
            return Reply((usage_card(str(exc), prefix=self.prefix),))
        if reply_context:
            command = dataclasses.replace(command, reply_context=dict(reply_context))
        return await self.run(actor, command)

    async def run(self, actor: Actor, command: Command) -> Reply:
        # reasons and names are stored: NUL cannot be in PostgreSQL text (the member got
        # "Something went wrong" however often they tried)
        command = dataclasses.replace(
            command,
            args=tuple(without_control_characters(arg) for arg in command.args),
            options={
                key: without_control_characters(value) for key, value in command.options.items()
            },
        )
        handlers = {
            CommandName.TODAY: self.today,
            CommandName.PRACTICE: self.practice_question,
            CommandName.LEADERBOARD: self.leaderboard,
            CommandName.STREAKS: self.streaks,
            CommandName.STATS: self.stats,
            CommandName.CONFIG: self.config,
            CommandName.PAUSE: self.pause,
            CommandName.RESUME: self.resume,
            CommandName.SKIP: self.skip,
            CommandName.QUEUE: self.queue,
            CommandName.NUDGES: self.nudges,
            CommandName.MOCK: self.mock,
            CommandName.REVIEW: self.review,
            CommandName.DISPUTE: self.dispute,
            CommandName.REPORT: self.report,
            CommandName.ADMIN: self.admin,
            CommandName.HELP: self.help,
        }
        try:
            return await handlers[command.name](actor, command)
        except UsageError as exc:
            return Reply((usage_card(str(exc), command.name, self.prefix),))
        except NotAllowed as exc:
            return Reply((error_card(str(exc)),))
        except SettingsRejected as exc:
            return Reply((settings_error_card(exc),))
        except (InterviewError, DisputeRefused) as exc:
            return Reply((error_card(str(exc)),))

    async def help(self, actor: Actor, command: Command | None = None) -> Reply:
        return Reply((help_card(self.prefix),))

    # --- questions -----------------------------------------------------------------------

    async def today(self, actor: Actor, command: Command | None = None) -> Reply:
        """The channel's open question; in a channel with no schedule, a practice question
        with the same button and a line on how to schedule one."""
        channel_id = actor.channel_id
        if channel_id is not None:
            view = await self._channels.view(channel_id)
            opened = await self._daily.current_post(channel_id)
            if opened is not None:
                assert opened.post.id is not None
                card = question_card(
                    prompt=opened.question.prompt,
                    topic=opened.question.topic,
                    difficulty=opened.question.difficulty.value,
                    track=opened.question.track.value,
                    post_id=opened.post.id,
                    closes_at=opened.post.closes_at,
                ).model_copy(update={"private": True})
                return Reply((card,))
            if view.enabled:
                when = "No question is open right now."
                if view.next_post is not None:
                    local = view.next_post.astimezone(view.schedule.zone)
                    when = (
                        f"No question is open right now; the next one comes "
                        f"{local:%a %d %b at %H:%M} ({view.schedule.timezone})."
                    )
                if view.delivery_problem:
                    when = (
                        f"The last question could not be posted here: {view.delivery_problem}. "
                        + when
                    )
                return await self._practice_reply(actor, note=when + " Meanwhile, practise:")
        return await self._practice_reply(
            actor,
            note=f"No daily question is scheduled here yet: an admin can set one up with "
            f"`{self.prefix}config`. Meanwhile, practise:",
        )

    async def practice_question(self, actor: Actor, command: Command) -> Reply:
        track: Track | None = None
        topics: list[str] = []
        difficulty: Difficulty | None = None
        catalogue = await self._practice.catalogue(await self._scope(actor))
        known_topics = {topic for topics_ in catalogue.values() for topic in topics_}
        for word in command.args:
            value = word.lower()
            if value in {level.value for level in Difficulty}:
                difficulty = Difficulty(value)
            elif value in {item.value for item in catalogue}:
                track = Track(value)
            elif value in known_topics:
                topics.append(value)
            else:
                names = sorted(known_topics | {item.value for item in catalogue})
                raise UsageError(
                    f"Unknown topic, track or level '{word}'. Topics and tracks: {', '.join(names)}"
                )
        return await self._practice_reply(actor, track=track, topics=topics, difficulty=difficulty)

    async def _practice_reply(
        self,
        actor: Actor,
        *,
        note: str = "",
        track: Track | None = None,
        topics: Sequence[str] = (),
        difficulty: Difficulty | None = None,
        due_only: bool = False,
    ) -> Reply:
        question = await self._practice.next_question(
            actor.member_id,
            scope=await self._scope(actor),
            track=track,
            topics=topics,
            difficulty=difficulty,
            workspace_id=actor.workspace_id,
            due_only=due_only,
        )
        if question is None:
            return Reply((error_card("No question matches that choice."),))
        assert question.id is not None
        return Reply(
            (
                practice_card(
                    prompt=question.prompt,
                    topic=question.topic,
                    difficulty=question.difficulty.value,
                    track=question.track.value,
                    question_id=question.id,
                    note=note,
                ),
            )
        )

    async def _scope(self, actor: Actor) -> str:
        return f"{actor.platform.value}:{actor.workspace_external_id}"

    # --- boards and stats ----------------------------------------------------------------

    async def leaderboard(self, actor: Actor, command: Command) -> Reply:
        period = Period.WEEK
        for word in command.args:
            try:
                period = Period(word.lower())
            except ValueError:
                raise UsageError(f"Unknown period '{word}'.") from None
        cards = []
        if actor.channel_id is not None:
            rows = await self._leaderboards.leaderboard(
                actor.workspace_id, period, channel_id=actor.channel_id
            )
            if rows:
                cards.append(
                    leaderboard_card(period, "this channel", rows).model_copy(
                        update={"private": True}
                    )
                )
        rows = await self._leaderboards.leaderboard(actor.workspace_id, period)
        cards.append(
            leaderboard_card(period, "workspace", rows).model_copy(update={"private": True})
        )
        return Reply(tuple(cards))

    async def streaks(self, actor: Actor, command: Command) -> Reply:
        if actor.channel_id is None:
            raise UsageError("Streaks are counted per channel: run it in a channel.")
        rows = await self._leaderboards.streak_board(actor.channel_id)
        body = "\n".join(
            f"{row.rank:>2}. {row.display_name} — {row.streak.current} in a row"
            f"{' 🧊' * row.streak.freezes}"
            for row in rows
        )
        return Reply(
            (
                Card(
                    kind=CardKind.LEADERBOARD,
                    title="🔥 Longest current streaks · this channel",
                    body=body or "No streaks yet.",
                    footer="🧊 = a streak freeze held (earned every 7 answered posts in a row).",
                    private=True,
                ),
            )
        )

    async def stats(self, actor: Actor, command: Command) -> Reply:
        member_id = actor.member_id
        if command.member_external_id and command.member_external_id != actor.member_external_id:
            other = await self._directory.find_member(
                actor.platform, actor.workspace_external_id, command.member_external_id
            )
            if other is None:
                raise UsageError("That member has not played here yet: there are no stats to show.")
            member_id = other
        stats = await self._leaderboards.member_stats(member_id, channel_id=actor.channel_id)
        card = stats_card(stats)
        if self._sessions is not None:
            png, _ = await progress_png(
                self._sessions,
                member_id,
                f"Progress of {stats.display_name}" if stats.display_name.strip() else "Progress",
            )
            card = card.model_copy(
                update={
                    "attachments": (
                        Attachment(
                            filename="progress.png",
                            content_type="image/png",
                            data=png,
                            description="Score over time and strength per topic",
                        ),
                    )
                }
            )
        return Reply((card,))

    # --- channel settings (admins) -------------------------------------------------------

    def _channel(self, actor: Actor) -> int:
        """The channel whose settings a command changes (config, pause, resume, skip, queue)."""
        if actor.in_direct_message:
            # a schedule there was saved and every post failed, with nothing said
            raise UsageError("Channel settings are changed in a channel, not in a direct message.")
        if actor.channel_id is None:
            raise UsageError("Run it in the channel whose settings you want to change.")
        return actor.channel_id

    async def config(self, actor: Actor, command: Command) -> Reply:
        channel_id = self._channel(actor)
        self._channels.require_admin(actor)
        change = config_change_from(command)
        if change is None:
            return Reply(config_form=await self.config_form(actor))
        view = await self._channels.update(actor, channel_id, change)
        return Reply((config_card(view, "✅ Channel settings saved"),))

    async def config_form(self, actor: Actor) -> ConfigForm:
        channel_id = self._channel(actor)
        self._channels.require_admin(actor)
        view = await self._channels.view(channel_id)
        catalogue = await self._practice.catalogue(await self._scope(actor))
        schedule = view.schedule
        return ConfigForm(
            channel_id=channel_id,
            channel_name=view.name,
            enabled=view.enabled,
            post_time=f"{schedule.post_time:%H:%M}",
            timezone=schedule.timezone,
            days=view.days_text,
            cadence=schedule.cadence.value,
            answer_window=window_text(schedule.answer_window),
            track=view.track.value if view.track else "",
            topics=", ".join(view.topics),
            tracks=tuple(sorted(track.value for track in catalogue)),
            topics_by_track={
                track.value: tuple(sorted(topics)) for track, topics in catalogue.items()
            },
            delivery_problem=view.delivery_problem,
        )

    async def apply_config(self, actor: Actor, channel_id: int, change: ConfigChange) -> Reply:
        """The submission of the config form; raises ``SettingsRejected`` with field errors."""
        view = await self._channels.update(actor, channel_id, change)
        return Reply((config_card(view, "✅ Channel settings saved"),))

    async def pause(self, actor: Actor, command: Command) -> Reply:
        channel_id = self._channel(actor)
        until = command.options.get("until")
        words = list(command.args)
        if until is None and words and re.fullmatch(r"\d{4}-\d{2}-\d{2}", words[0]):
            until = words.pop(0)
        view = await self._channels.pause(actor, channel_id, until=until, reason=" ".join(words))
        return Reply((config_card(view, "⏸️ Paused"),))

    async def resume(self, actor: Actor, command: Command) -> Reply:
        view = await self._channels.resume(actor, self._channel(actor))
        return Reply((config_card(view, "▶️ Resumed"),))

    async def skip(self, actor: Actor, command: Command) -> Reply:
        channel_id = self._channel(actor)
        words = list(command.args)
        if not words:
            raise UsageError("Give at least one date.")
        if words[0].lower() in {"remove", "rm", "delete"}:
            view = await self._channels.skip_dates(actor, channel_id, remove=words[1:])
        else:
            view = await self._channels.skip_dates(actor, channel_id, add=words)
        return Reply((config_card(view, "📅 Skip dates updated"),))

    async def queue(self, actor: Actor, command: Command) -> Reply:
        channel_id = self._channel(actor)
        words = list(command.args)
        if not words or words[0].lower() in {"list", "show"}:
            self._channels.require_admin(actor)
            return Reply((config_card(await self._channels.view(channel_id), "🗂️ Queue"),))
        if words[0].lower() in {"custom", "write"}:
            self._channels.require_admin(actor)
            if len(words) > 2:
                raise UsageError("Write queue custom, or queue custom YYYY-MM-DD.")
            return Reply(
                question_form=QuestionForm(channel_id, for_date=words[1] if len(words) > 1 else "")
            )
        if words[0].lower() in {"remove", "rm", "delete"}:
            entry = row_id(words[1]) if len(words) == 2 else None
            if entry is None:
                raise UsageError("Give the number of the queued entry to remove.")
            view = await self._channels.unqueue(actor, channel_id, entry)
            return Reply((config_card(view, "🗂️ Removed from the queue"),))
        when = words[1] if len(words) > 1 else None
        view = await self._channels.queue_bank_question(actor, channel_id, words[0], for_date=when)
        return Reply((config_card(view, "🗂️ Queued"),))

    async def queue_custom(
        self, actor: Actor, channel_id: int, yaml_text: str, for_date: str | None = None
    ) -> Reply:
        view = await self._channels.queue_custom_question(
            actor, channel_id, yaml_text, for_date=for_date
        )
        return Reply((config_card(view, "🗂️ Custom question queued"),))

    async def nudges(self, actor: Actor, command: Command) -> Reply:
        words = [word.lower() for word in command.args]
        if words not in (["on"], ["off"], ["stop"]):
            raise UsageError("Say nudges on or nudges off.")
        enabled = words == ["on"]
        await self._directory.set_nudges(actor.member_id, enabled)
        message = (
            "Nudges on: you get a private reminder before an open question closes when you have "
            "a streak of 2 or more and have not answered yet."
            if enabled
            else "Nudges off: no more reminders."
        )
        return Reply((notice_card(message),))

    # --- mock interviews, review, disputes --------------------------------------------------

    def _need(self, service: object, what: str) -> None:
        if service is None:
            raise UsageError(f"{what} is not available here.")

    async def mock(self, actor: Actor, command: Command) -> Reply:
        self._need(self._interviews, "Mock interviews")
        assert self._interviews is not None
        words = [word.lower() for word in command.args]
        action = words[0] if words else "start"
        rest = words[1:] if words else []
        if action in {"stop", "end"}:
            return Reply(tuple(await self._interviews.stop(actor)))
        if action == "skip":
            return Reply(tuple(await self._interviews.skip(actor)))
        if action == "report":
            return Reply((await self._interviews.last_report(actor),))
        if action not in {"start", "new", "resume"}:
            rest, action = words, "start"
        track, topic, difficulty, length = await self._mock_options(actor, rest)
        card = await self._interviews.start(
            actor,
            topic=topic,
            track=track,
            difficulty=difficulty,
            length=length,
            new=action == "new",
            reply_context=command.reply_context,
        )
        return Reply((card,))

    async def _mock_options(
        self, actor: Actor, words: Sequence[str]
    ) -> tuple[Track | None, str | None, Difficulty | None, int | None]:
        catalogue = await self._practice.catalogue(await self._scope(actor))
        topics = {topic for values in catalogue.values() for topic in values}
        track = topic = difficulty = length = None
        for word in words:
            if word.isdecimal():  # not isdigit: int() refuses superscripts such as '²'
                length = int(word)
            elif word in {level.value for level in Difficulty}:
                difficulty = Difficulty(word)
            elif word in {item.value for item in catalogue}:
                track = Track(word)
            elif word in topics:
                topic = word
            else:
                raise UsageError(f"Unknown topic, track, level or length '{word}'.")
        return track, topic, difficulty, length

    async def review(self, actor: Actor, command: Command) -> Reply:
        self._need(self._review, "Spaced repetition")
        assert self._review is not None
        words = [word.lower() for word in command.args]
        if words in (["on"], ["off"]):
            await self._review.set_enabled(actor.member_id, words == ["on"])
            return Reply(
                (
                    notice_card(
                        "Spaced repetition on: practice brings back what you are due to review."
                        if words == ["on"]
                        else "Spaced repetition off: practice picks questions as usual."
                    ),
                )
            )
        if words:
            raise UsageError("Say review, review on or review off.")
        drawable = self._practice.eligible(
            scope=await self._scope(actor), workspace_id=actor.workspace_id
        )
        state = await self._review.state(actor.member_id, drawable)
        if not state.enabled:
            return Reply((notice_card("Spaced repetition is off: turn it on with review on."),))
        if state.due == 0:
            return Reply((notice_card("Nothing is due for review: practise something new."),))
        reply = await self._practice_reply(
            actor,
            note=f"Review: {state.due} question(s) due, the most overdue first.",
            due_only=True,
        )
        return reply

    async def dispute(self, actor: Actor, command: Command) -> Reply:
        self._need(self._disputes, "Disputes")
        assert self._disputes is not None
        answer_id = row_id(command.args[0]) if len(command.args) >= 2 else None
        if answer_id is None:
            raise UsageError("Give the answer number (on your grade) and your reason.")
        card = await self._disputes.dispute(
            actor, answer_id, " ".join(command.args[1:]), reply_context=command.reply_context
        )
        return Reply((card,))

    async def report(self, actor: Actor, command: Command) -> Reply:
        self._need(self._disputes, "Reports")
        assert self._disputes is not None
        if len(command.args) < 2:
            raise UsageError("Give the question id and what is wrong with it.")
        return Reply(
            (
                await self._disputes.report_question(
                    actor, command.args[0], " ".join(command.args[1:])
                ),
            )
        )

    async def admin(self, actor: Actor, command: Command) -> Reply:
        self._need(self._disputes, "Admin tools")
        assert self._disputes is not None
        words = list(command.args)
        action = words[0].lower() if words else "list"
        if action == "list":
            return Reply((open_items_card(await self._disputes.open_items(actor)),))
        if action == "override":
            answer_id = row_id(words[1]) if len(words) >= 4 else None
            if answer_id is None or not words[2].isdecimal():
                raise UsageError("admin override <answer> <score 0-100> <reason>")
            card = await self._disputes.override(
                actor, answer_id, int(words[2]), " ".join(words[3:])
            )
            return Reply((card,))
        if action == "disable":
            if len(words) < 3:
                raise UsageError("admin disable <question id> <reason>")
            return Reply(
                (await self._disputes.disable_question(actor, words[1], " ".join(words[2:])),)
            )
        if action == "audit":
            entries = await self._disputes.audit_log(actor)
            body = "\n".join(
                f"{entry.created_at:%Y-%m-%d %H:%M} {entry.actor_external_id} {entry.action} "
                f"{entry.target}: {entry.old_value} → {entry.new_value} ({entry.reason[:80]})"
                for entry in entries
            )
            return Reply((notice_card("🧾 Audit log", body or "Nothing yet."),))
        raise UsageError(f"Unknown admin action '{action}'.")


def config_change_from(command: Command) -> ConfigChange | None:
    """A change from ``config key=value ... on|off``; None when nothing was given."""
    values: dict[str, object] = {}
    unknown = [key for key in command.options if key not in CONFIG_KEYS]
    if unknown:
        raise UsageError(f"Unknown setting '{unknown[0]}'.")
    for key, value in command.options.items():
        values[CONFIG_KEYS[key]] = value
    for word in command.args:
        if word.lower() in {"on", "enable", "start"}:
            values["enabled"] = True
        elif word.lower() in {"off", "disable", "stop"}:
            values["enabled"] = False
        else:
            raise UsageError(f"Unknown setting '{word}' (write key=value, or on/off).")
    return ConfigChange(**values) if values else None  # type: ignore[arg-type]


def settings_error_card(exc: SettingsRejected) -> Card:
    return Card(
        kind=CardKind.ERROR,
        title="⚠️ Nothing was changed",
        body="\n".join(f"• {name}: {message}" for name, message in exc.errors.items()),
        private=True,
    )
