"""Workspaces, channels and members: get-or-create by platform id, and channel schedule changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import validate_post_time, validate_timezone
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import Channel, Member, Workspace

MAX_ANSWER_WINDOW_MINUTES = 7 * 24 * 60
T = TypeVar("T", Workspace, Channel, Member)


class ScheduleError(ValueError):
    """A schedule change was refused; the message says why, and nothing was changed."""


@dataclass(frozen=True)
class ScheduleChange:
    post_time: str | None = None
    timezone: str | None = None
    topics: Sequence[str] | None = None
    answer_window_minutes: int | None = None
    enabled: bool | None = None


async def _get_or_create(
    session: AsyncSession, model: type[T], identity: dict[str, Any], defaults: dict[str, Any]
) -> T:
    """Insert-or-nothing on the natural key, then read the row: safe under concurrent callers."""
    await session.execute(
        insert_ignore(session, model).values(**identity, **defaults).on_conflict_do_nothing()
    )
    conditions = [getattr(model, column) == value for column, value in identity.items()]
    return (await session.execute(sa.select(model).where(*conditions))).scalar_one()


class Directory:
    """Finds or creates the platform entities the rest of the core refers to by row id."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        default_timezone: str = "UTC",
        default_post_time: str = "09:00",
        default_answer_window_minutes: int = 23 * 60,
    ):
        self._sessions = sessions
        self._clock = clock
        self._default_timezone = default_timezone
        self._default_post_time = default_post_time
        self._default_window = default_answer_window_minutes
        self._schedule_listeners: list[Callable[[int], Awaitable[None]]] = []

    def on_schedule_change(self, listener: Callable[[int], Awaitable[None]]) -> None:
        self._schedule_listeners.append(listener)

    async def workspace(self, platform: str, external_id: str, name: str = "") -> Workspace:
        async with transaction(self._sessions) as session:
            return await _get_or_create(
                session,
                Workspace,
                {"platform": platform, "external_id": external_id},
                {"name": name, "timezone": self._default_timezone, "created_at": self._clock.now()},
            )

    async def channel(self, workspace_id: int, external_id: str, name: str = "") -> Channel:
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            return await _get_or_create(
                session,
                Channel,
                {"workspace_id": workspace_id, "external_id": external_id},
                {
                    "name": name,
                    "post_time": self._default_post_time,
                    "timezone": self._default_timezone,
                    "topics": [],
                    "answer_window_minutes": self._default_window,
                    "enabled": True,
                    "created_at": now,
                    "updated_at": now,
                },
            )

    async def member(
        self,
        workspace_id: int,
        external_id: str,
        display_name: str = "",
        timezone: str | None = None,
    ) -> Member:
        if timezone is not None:
            validate_timezone(timezone)  # raises ValueError naming the zone; nothing is written
        async with transaction(self._sessions) as session:
            member = await _get_or_create(
                session,
                Member,
                {"workspace_id": workspace_id, "external_id": external_id},
                {
                    "display_name": display_name[:200],
                    "timezone": timezone,
                    "created_at": self._clock.now(),
                },
            )
            changed = False
            if display_name and member.display_name != display_name[:200]:
                member.display_name = display_name[:200]
                changed = True
            if timezone and member.timezone != timezone:
                member.timezone = timezone
                changed = True
            if changed:
                session.add(member)
            return member

    async def update_schedule(self, channel_id: int, change: ScheduleChange) -> Channel:
        """Validate everything first; apply all or nothing; then tell the scheduler."""
        try:
            if change.timezone is not None:
                validate_timezone(change.timezone)
            if change.post_time is not None:
                validate_post_time(change.post_time)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from None
        if change.answer_window_minutes is not None and not (
            5 <= change.answer_window_minutes <= MAX_ANSWER_WINDOW_MINUTES
        ):
            raise ScheduleError(
                f"the answer window must be between 5 minutes and {MAX_ANSWER_WINDOW_MINUTES // 60} hours"
            )
        async with transaction(self._sessions) as session:
            channel = await session.get(Channel, channel_id)
            if channel is None:
                raise ScheduleError(f"no channel with id {channel_id}")
            if change.post_time is not None:
                channel.post_time = change.post_time
            if change.timezone is not None:
                channel.timezone = change.timezone
            if change.topics is not None:
                channel.topics = sorted({topic.strip() for topic in change.topics if topic.strip()})
            if change.answer_window_minutes is not None:
                channel.answer_window_minutes = change.answer_window_minutes
            if change.enabled is not None:
                channel.enabled = change.enabled
            channel.updated_at = self._clock.now()
            session.add(channel)
        for listener in self._schedule_listeners:
            await listener(channel_id)
        return channel

    async def enabled_channels(self) -> list[Channel]:
        async with self._sessions() as session:
            result = await session.execute(
                sa.select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id)  # type: ignore[attr-defined]
            )
            return list(result.scalars())
