"""Channel settings: the schedule (days, cadence, time, zone, answer window), the track and
topics, pauses and holidays, champions, and the queue of chosen questions.

Every change is validated as a whole first (errors name the field, so a modal can show each one
under its input) and applied all or nothing; only admins change a channel. ``updated_at`` moves
on every change, which is how schedulers in other processes notice it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.config import validate_timezone
from bot.domain.bank import BankError, BankValidationError, Question, Track, parse_question_text
from bot.domain.schedule import (
    Cadence,
    Schedule,
    ScheduleError,
    format_days,
    parse_date,
    parse_days,
    parse_time_of_day,
    parse_window,
)
from bot.services.cards import Card, CardKind
from bot.services.delivery import (
    QUESTION_TOPIC,
    WORKSPACE_REFUSALS,
    Target,
    describe_failure,
    enqueue,
    failure_code,
)
from bot.services.directory import Actor
from bot.services.question_rows import question_row
from bot.storage.db import transaction
from bot.storage.models import (
    Channel,
    DailyPost,
    DeliveryAction,
    OutboxMessage,
    OutboxStatus,
    Platform,
    QuestionVersion,
    QueuedQuestion,
    Workspace,
)
from bot.storage.rollups import rebuild_rollups

MAX_TOPICS = 30
MAX_SKIP_DATES = 100


class NotAllowed(Exception):
    """The member may not do this (channel settings are for admins)."""


class SettingsRejected(ValueError):
    """A change was refused; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


def schedule_of(channel: Channel) -> Schedule:
    return Schedule(
        post_time=channel.post_time,
        timezone=channel.timezone,
        days=frozenset(channel.post_days),
        cadence=channel.cadence,
        answer_window=timedelta(minutes=channel.answer_window_minutes),
        paused=channel.paused,
        paused_until=channel.paused_until,
        skip_dates=frozenset(date.fromisoformat(day) for day in channel.skip_dates),
    )


@dataclass(frozen=True)
class ConfigChange:
    """A change to a channel's settings, as members type it (strings are parsed and checked)."""

    enabled: bool | None = None
    post_time: str | time | None = None
    timezone: str | None = None
    days: str | Sequence[int] | None = None
    cadence: str | None = None
    answer_window: str | int | None = None
    track: str | None = None
    topics: Sequence[str] | str | None = None
    announce_champions: bool | None = None
    mention_champion: bool | None = None
    champion_role_id: str | None = None


@dataclass(frozen=True)
class ChannelView:
    """A channel's settings as members see them."""

    channel_id: int
    workspace_id: int
    name: str
    external_id: str
    enabled: bool
    schedule: Schedule
    track: Track | None
    topics: tuple[str, ...]
    pause_reason: str
    announce_champions: bool
    champion_role_id: str | None
    next_post: datetime | None
    queue: tuple[QueuedView, ...] = field(default=())
    #: Why the channel's latest question could not be posted ("" when it was, or is on its way).
    delivery_problem: str = ""

    @property
    def days_text(self) -> str:
        return format_days(self.schedule.days)

    def summary(self) -> str:
        if not self.enabled:
            return "no daily question (off)"
        schedule = self.schedule
        cadence = "weekly on" if schedule.cadence is Cadence.WEEKLY else "on"
        text = (
            f"{cadence} {self.days_text} at {schedule.post_time:%H:%M} {schedule.timezone}, "
            f"open {window_text(schedule.answer_window)}"
        )
        if schedule.paused:
            until = f" until {schedule.paused_until.isoformat()}" if schedule.paused_until else ""
            reason = f" ({self.pause_reason})" if self.pause_reason else ""
            text += f"; paused{until}{reason}"
        return text


@dataclass(frozen=True)
class QueuedView:
    queue_id: int
    bank_id: str
    prompt: str
    for_date: date | None
    custom: bool


def window_text(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    return "".join(parts) or "0m"


class ChannelSettings:
    """Reads and changes channel settings; refuses members who are not admins."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        on_change: Callable[[], None] = lambda: None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._on_change = on_change

    @staticmethod
    def require_admin(actor: Actor) -> None:
        if not actor.is_admin:
            raise NotAllowed(
                "Only workspace admins (or members an admin added to the bot's admin list) can "
                "change the channel's settings."
            )

    async def view(self, channel_id: int) -> ChannelView:
        async with self._sessions() as session:
            channel = await session.get(Channel, channel_id)
            if channel is None:
                raise KeyError(channel_id)
            queue = await self._queue(session, channel_id)
            problem = await self._delivery_problem(session, channel_id)
        return self._view(channel, queue, problem)

    @staticmethod
    async def _latest_question_posts(
        session: AsyncSession, channel_id: int, count: int
    ) -> Sequence[sa.Row[OutboxStatus, str | None]]:
        """The delivery status and error of a channel's latest ``count`` question posts, newest
        first: read through its daily posts (an index look-up), never by scanning the outbox."""
        return (
            await session.execute(
                sa.select(col(OutboxMessage.status), col(OutboxMessage.last_error))
                .join(DailyPost, col(DailyPost.outbox_id) == col(OutboxMessage.id))
                .where(col(DailyPost.channel_id) == channel_id)
                .order_by(col(DailyPost.local_date).desc())
                .limit(count)
            )
        ).all()

    async def _delivery_problem(self, session: AsyncSession, channel_id: int) -> str:
        """Why the latest question post of a channel was refused, if it was (its outbox row is
        dead): the bot was removed from the channel, lost a permission, was uninstalled..."""
        latest = await self._latest_question_posts(session, channel_id, 1)
        if not latest or latest[0].status is not OutboxStatus.DEAD:
            return ""
        return describe_failure(latest[0].last_error)

    async def question_refused(self, message: OutboxMessage) -> None:
        """A channel's question post was refused for good (its outbox row is dead): tell the
        member who last saved the channel's settings, in private, why and what to do. Once per
        run of refusals: not again while the channel's previous question was refused too."""
        if message.topic != QUESTION_TOPIC or message.channel_external_id is None:
            return
        if failure_code(message.last_error) in WORKSPACE_REFUSALS:
            return  # the whole workspace is out of reach: a direct message would fail too
        async with transaction(self._sessions) as session:
            channel = (
                await session.execute(
                    sa.select(Channel)
                    .join(Workspace, col(Workspace.id) == col(Channel.workspace_id))
                    .where(
                        col(Workspace.enabled).is_(True),
                        col(Workspace.platform) == message.platform,
                        col(Workspace.external_id) == message.workspace_external_id,
                        col(Channel.external_id) == message.channel_external_id,
                    )
                )
            ).scalar_one_or_none()
            if channel is None or channel.id is None or not channel.configured_by:
                return
            latest = await self._latest_question_posts(session, channel.id, 2)
            if len(latest) == 2 and latest[1].status is OutboxStatus.DEAD:
                return  # told when the run of refusals began
            where = f"#{channel.name}" if channel.name else "the channel"
            card = Card(
                kind=CardKind.NOTICE,
                title="⚠️ The daily question could not be posted",
                body=f"I could not post the question in {where}: "
                f"{describe_failure(message.last_error)}. You get this because you last changed "
                f"the channel's settings; `/interview today` there says it too until a question "
                f"posts.",
                private=True,
            )
            enqueue(
                session,
                Target(
                    message.platform, message.workspace_external_id, None, channel.configured_by
                ),
                card,
                action=DeliveryAction.PRIVATE,
                topic="refused",
                now=self._clock.now(),
            )

    def _view(
        self, channel: Channel, queue: Sequence[QueuedView] = (), delivery_problem: str = ""
    ) -> ChannelView:
        schedule = schedule_of(channel)
        reason = channel.pause_reason
        if schedule.paused and not schedule.is_paused_on(schedule.local_date(self._clock.now())):
            schedule, reason = replace(schedule, paused=False, paused_until=None), ""
        assert channel.id is not None
        return ChannelView(
            channel_id=channel.id,
            workspace_id=channel.workspace_id,
            name=channel.name,
            external_id=channel.external_id,
            enabled=channel.enabled,
            schedule=schedule,
            track=channel.track,
            topics=tuple(channel.topics),
            pause_reason=reason,
            announce_champions=channel.announce_champions,
            champion_role_id=channel.champion_role_id,
            next_post=schedule.next_slot(self._clock.now()) if channel.enabled else None,
            queue=tuple(queue),
            delivery_problem=delivery_problem,
        )

    async def channel_deleted(
        self, platform: Platform, workspace_external_id: str, channel_external_id: str
    ) -> bool:
        """The platform deleted a channel: its schedule stops (no command can name it any
        more, and every post would be refused). False when the bot never knew it."""
        async with transaction(self._sessions) as session:
            workspace = sa.select(col(Workspace.id)).where(
                col(Workspace.platform) == platform,
                col(Workspace.external_id) == workspace_external_id,
            )
            result = await session.execute(
                sa.update(Channel)
                .where(
                    col(Channel.workspace_id).in_(workspace.scalar_subquery()),
                    col(Channel.external_id) == channel_external_id,
                    col(Channel.enabled).is_(True),
                )
                .values(enabled=False, updated_at=self._clock.now())
            )
            changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed:
            self._on_change()
        return changed

    async def all_channels(self) -> list[tuple[Workspace, ChannelView]]:
        """Every channel with a schedule (enabled or not), for operators."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    sa.select(Workspace, Channel)
                    .join(Channel, col(Channel.workspace_id) == Workspace.id)
                    .order_by(col(Workspace.id), col(Channel.id))
                )
            ).all()
        return [(workspace, self._view(channel)) for workspace, channel in rows]

    async def known_topics(self, workspace_scope: str, track: Track | None = None) -> set[str]:
        async with self._sessions() as session:
            query = sa.select(col(QuestionVersion.topic)).where(
                col(QuestionVersion.active).is_(True),
                col(QuestionVersion.scope).in_(["", workspace_scope]),
            )
            if track is not None:
                query = query.where(col(QuestionVersion.track) == track)
            return set((await session.execute(query.distinct())).scalars())

    async def update(self, actor: Actor, channel_id: int, change: ConfigChange) -> ChannelView:
        """Validate every field first; apply all or nothing."""
        self.require_admin(actor)
        async with transaction(self._sessions) as session:
            channel = await session.get(Channel, channel_id)
            workspace = await session.get(Workspace, actor.workspace_id)
            if channel is None or workspace is None or channel.workspace_id != workspace.id:
                raise SettingsRejected({"channel": "this channel is not in your workspace"})
            errors: dict[str, str] = {}
            values = self._parse(change, errors)
            # _parse stores a Track (or None) under "track" and a list of names under "topics"
            track = cast("Track | None", values.get("track", channel.track))
            if "topics" in values or "track" in values:
                topics = cast("list[str]", values.get("topics", channel.topics))
                known = await self._known_topics(session, workspace.scope_key, track)
                unknown = sorted(set(topics) - known)
                if unknown:
                    errors["topics"] = (
                        f"unknown topic(s) {', '.join(unknown)}"
                        + (f" in the {track.value} track" if track else "")
                        + f"; known: {', '.join(sorted(known)[:40])}"
                    )
            candidate = Channel.model_validate({**channel.model_dump(), **values})
            schedule = schedule_of(candidate)
            today = schedule.local_date(self._clock.now())
            if schedule.paused and not schedule.is_paused_on(today):  # the pause ran out
                values.update(paused=False, paused_until=None, pause_reason="")
                candidate = Channel.model_validate({**channel.model_dump(), **values})
                schedule = schedule_of(candidate)
            if candidate.enabled and not errors:
                for key, problem in schedule.errors(today).items():
                    errors.setdefault(key, problem)
            if errors:
                raise SettingsRejected(errors)
            new_zone = values.get("timezone", channel.timezone) != channel.timezone
            for name, value in values.items():
                setattr(channel, name, value)
            channel.updated_at = self._clock.now()
            channel.configured_by = actor.member_external_id
            session.add(channel)
            if new_zone:  # the channel board's weeks and months now start at other instants
                await session.flush()
                await rebuild_rollups(session, channel_id=channel_id)
            queue = await self._queue(session, channel_id)
            view = self._view(channel, queue, await self._delivery_problem(session, channel_id))
        self._on_change()
        return view

    def _parse(self, change: ConfigChange, errors: dict[str, str]) -> dict[str, object]:
        values: dict[str, object] = {}

        def attempt(name: str, parse: Callable[[], object]) -> None:
            try:
                values[name] = parse()
            except (ValueError, ScheduleError) as exc:
                errors[name] = str(exc)

        if change.enabled is not None:
            values["enabled"] = change.enabled
        if change.post_time is not None:
            raw_time = change.post_time
            attempt(
                "post_time",
                lambda: raw_time if isinstance(raw_time, time) else parse_time_of_day(raw_time),
            )
        if change.timezone is not None:
            zone = change.timezone.strip()
            attempt("timezone", lambda: validate_timezone(zone))
        if change.days is not None:
            raw_days = change.days
            attempt(
                "post_days",
                lambda: sorted(
                    parse_days(raw_days) if isinstance(raw_days, str) else set(raw_days)
                ),
            )
        if change.cadence is not None:
            cadence = change.cadence.strip().lower()
            attempt("cadence", lambda: _enum_value(Cadence, cadence, "cadence"))
        if change.answer_window is not None:
            raw_window = change.answer_window
            attempt(
                "answer_window_minutes",
                lambda: raw_window if isinstance(raw_window, int) else parse_window(raw_window),
            )
        if change.track is not None:
            track = change.track.strip().lower()
            attempt("track", lambda: None if track in {"", "any", "all"} else Track(track))
        if change.topics is not None:
            raw = change.topics
            items = raw.replace(";", ",").split(",") if isinstance(raw, str) else list(raw)
            topics = sorted({item.strip().lower() for item in items if item.strip()})
            if len(topics) > MAX_TOPICS:
                errors["topics"] = f"at most {MAX_TOPICS} topics"
            else:
                values["topics"] = topics
        if change.announce_champions is not None:
            values["announce_champions"] = change.announce_champions
        if change.mention_champion is not None:
            values["mention_champion"] = change.mention_champion
        if change.champion_role_id is not None:
            values["champion_role_id"] = change.champion_role_id.strip() or None
        # the form's field names, so errors land under the right input
        renamed = {"post_days": "days", "answer_window_minutes": "answer_window"}
        for old, new in renamed.items():
            if old in errors:
                errors[new] = errors.pop(old)
        return values

    async def _known_topics(
        self, session: AsyncSession, scope: str, track: Track | None
    ) -> set[str]:
        query = sa.select(col(QuestionVersion.topic)).where(
            col(QuestionVersion.active).is_(True),
            col(QuestionVersion.scope).in_(["", scope]),
        )
        if track is not None:
            query = query.where(col(QuestionVersion.track) == track)
        return set((await session.execute(query.distinct())).scalars())

    # --- pauses and holidays -------------------------------------------------------------

    async def pause(
        self, actor: Actor, channel_id: int, *, until: str | date | None = None, reason: str = ""
    ) -> ChannelView:
        """Pause posting; ``until`` is the first local date it posts again (None: until resumed)."""
        self.require_admin(actor)
        try:
            end = parse_date(until) if isinstance(until, str) else until
        except ValueError as exc:
            raise SettingsRejected({"until": str(exc)}) from None
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            today = schedule_of(channel).local_date(self._clock.now())
            if end is not None and end <= today:
                raise SettingsRejected(
                    {"until": f"the end date {end.isoformat()} is not in the future"}
                )
            channel.paused, channel.paused_until = True, end
            channel.pause_reason = reason.strip()[:200]
            channel.updated_at = self._clock.now()
            channel.configured_by = actor.member_external_id
            session.add(channel)
            view = self._view(
                channel,
                await self._queue(session, channel_id),
                await self._delivery_problem(session, channel_id),
            )
        self._on_change()
        return view

    async def resume(self, actor: Actor, channel_id: int) -> ChannelView:
        self.require_admin(actor)
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            channel.paused, channel.paused_until, channel.pause_reason = False, None, ""
            channel.updated_at = self._clock.now()
            channel.configured_by = actor.member_external_id
            session.add(channel)
            view = self._view(
                channel,
                await self._queue(session, channel_id),
                await self._delivery_problem(session, channel_id),
            )
        self._on_change()
        return view

    async def skip_dates(
        self, actor: Actor, channel_id: int, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> ChannelView:
        """Add or remove holidays (local dates with no post)."""
        self.require_admin(actor)
        try:
            added = {parse_date(day) for day in add}
            removed = {parse_date(day) for day in remove}
        except ValueError as exc:
            raise SettingsRejected({"dates": str(exc)}) from None
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            today = schedule_of(channel).local_date(self._clock.now())
            past = sorted(day for day in added if day < today)
            if past:
                raise SettingsRejected(
                    {"dates": f"{past[0].isoformat()} is in the past; skip dates are future days"}
                )
            current = {date.fromisoformat(day) for day in channel.skip_dates}
            unknown = sorted(removed - current - added)
            if unknown:
                raise SettingsRejected(
                    {"dates": f"{unknown[0].isoformat()} is not one of the skip dates"}
                )
            updated = sorted((current | added) - removed)
            updated = [day for day in updated if day >= today]
            if len(updated) > MAX_SKIP_DATES:
                raise SettingsRejected({"dates": f"at most {MAX_SKIP_DATES} skip dates"})
            channel.skip_dates = [day.isoformat() for day in updated]
            channel.updated_at = self._clock.now()
            channel.configured_by = actor.member_external_id
            session.add(channel)
            view = self._view(
                channel,
                await self._queue(session, channel_id),
                await self._delivery_problem(session, channel_id),
            )
        self._on_change()
        return view

    async def _owned(self, session: AsyncSession, actor: Actor, channel_id: int) -> Channel:
        channel = await session.get(Channel, channel_id)
        if channel is None or channel.workspace_id != actor.workspace_id:
            raise SettingsRejected({"channel": "this channel is not in your workspace"})
        return channel

    # --- the queue -----------------------------------------------------------------------

    async def queue_bank_question(
        self, actor: Actor, channel_id: int, bank_id: str, *, for_date: str | date | None = None
    ) -> ChannelView:
        """Queue a bank question (by id) for the next post or for a local date."""
        self.require_admin(actor)
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            workspace = await session.get(Workspace, channel.workspace_id)
            assert workspace is not None
            question = (
                await session.execute(
                    sa.select(QuestionVersion).where(
                        col(QuestionVersion.bank_id) == bank_id.strip(),
                        col(QuestionVersion.active).is_(True),
                        col(QuestionVersion.scope).in_(["", workspace.scope_key]),
                    )
                )
            ).scalar_one_or_none()
            if question is None:
                raise SettingsRejected({"question": f"no active question with id '{bank_id}'"})
            view = await self._add_to_queue(session, actor, channel, question, for_date)
        return view

    async def queue_custom_question(
        self, actor: Actor, channel_id: int, yaml_text: str, *, for_date: str | date | None = None
    ) -> ChannelView:
        """Queue a one-off question written in the bank's schema (YAML); refused with the
        field named when it does not validate. It is never picked automatically."""
        self.require_admin(actor)
        try:
            question = parse_question_text(yaml_text, "queued question")
        except BankValidationError as exc:
            raise SettingsRejected(
                {"question": "; ".join(_short_error(error) for error in exc.errors)}
            ) from None
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            workspace = await session.get(Workspace, channel.workspace_id)
            assert workspace is not None
            row = await _one_off_row(
                session, question, f"oneoff:{workspace.scope_key}", self._clock
            )
            view = await self._add_to_queue(session, actor, channel, row, for_date)
        return view

    async def _add_to_queue(
        self,
        session: AsyncSession,
        actor: Actor,
        channel: Channel,
        question: QuestionVersion,
        for_date: str | date | None,
    ) -> ChannelView:
        try:
            day = parse_date(for_date) if isinstance(for_date, str) else for_date
        except ValueError as exc:
            raise SettingsRejected({"date": str(exc)}) from None
        schedule = schedule_of(channel)
        if day is not None:
            today = schedule.local_date(self._clock.now())
            if day < today:
                raise SettingsRejected({"date": f"{day.isoformat()} is in the past"})
            if not schedule.posts_on(day):
                raise SettingsRejected(
                    {"date": f"the channel does not post on {day.isoformat()} ({day:%A})"}
                )
        assert channel.id is not None and question.id is not None
        session.add(
            QueuedQuestion(
                channel_id=channel.id,
                question_id=question.id,
                for_date=day,
                queued_by=actor.member_external_id,
                created_at=self._clock.now(),
            )
        )
        await session.flush()
        return self._view(
            channel,
            await self._queue(session, channel.id),
            await self._delivery_problem(session, channel.id),
        )

    async def unqueue(self, actor: Actor, channel_id: int, queue_id: int) -> ChannelView:
        self.require_admin(actor)
        async with transaction(self._sessions) as session:
            channel = await self._owned(session, actor, channel_id)
            result = await session.execute(
                sa.delete(QueuedQuestion).where(
                    col(QueuedQuestion.id) == queue_id,
                    col(QueuedQuestion.channel_id) == channel_id,
                    col(QueuedQuestion.used_at).is_(None),
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise SettingsRejected({"queue": f"nothing queued with number {queue_id}"})
            return self._view(
                channel,
                await self._queue(session, channel_id),
                await self._delivery_problem(session, channel_id),
            )

    async def _queue(self, session: AsyncSession, channel_id: int) -> list[QueuedView]:
        rows = await session.execute(
            sa.select(QueuedQuestion, QuestionVersion)
            .join(QuestionVersion, col(QuestionVersion.id) == QueuedQuestion.question_id)
            .where(
                col(QueuedQuestion.channel_id) == channel_id,
                col(QueuedQuestion.used_at).is_(None),
            )
            .order_by(*queue_order())
        )
        return [
            QueuedView(
                queue_id=queued.id or 0,
                bank_id=question.bank_id,
                prompt=question.prompt,
                for_date=queued.for_date,
                custom=question.scope.startswith("oneoff:"),
            )
            for queued, question in rows.all()
        ]


def queue_order() -> tuple[sa.SQLColumnExpression[Any], ...]:
    """Dated entries first by date, then "next post" entries in the order they were queued."""
    return (
        col(QueuedQuestion.for_date).is_(None),
        col(QueuedQuestion.for_date),
        col(QueuedQuestion.id),
    )


def _enum_value(enum: type[Cadence], value: str, name: str) -> Cadence:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ValueError(f"'{value}' is not a {name} (use {choices})") from None


def _short_error(error: BankError) -> str:
    where = f"line {error.line}: " if error.line is not None else ""
    field = f"{error.field}: " if error.field else ""
    return f"{where}{field}{error.message}"


async def _one_off_row(
    session: AsyncSession, question: Question, scope: str, clock: Clock
) -> QuestionVersion:
    existing = (
        await session.execute(
            sa.select(QuestionVersion).where(
                col(QuestionVersion.scope) == scope,
                col(QuestionVersion.bank_id) == question.id,
                col(QuestionVersion.content_hash) == question.content_hash,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    row = question_row(question, clock, scope=scope, active=False)
    session.add(row)
    await session.flush()
    return row
