"""Who sent an event: the workspace, channel and member rows behind a platform's ids.

``resolve`` reads first and writes only what is new (and a changed display name), and remembers
the row ids, so an answer submission does no write before its acknowledgement once the member
has been seen (the button that opens the answer form resolves them). Concurrent first events of
the same member are safe: creation is insert-or-nothing on the natural key.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import time
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import Channel, Member, Platform, Workspace, id_column

T = TypeVar("T", Workspace, Channel, Member)
CACHE_SIZE = 50_000
MAX_NAME = 200


@dataclass(frozen=True)
class Actor:
    """A member acting in a workspace (and a channel, when the event came from one)."""

    platform: Platform
    workspace_id: int
    workspace_external_id: str
    member_id: int
    member_external_id: str
    display_name: str
    channel_id: int | None = None
    channel_external_id: str | None = None
    #: Set by the adapter for this event (workspace admin/owner, Manage Server, admin list).
    is_admin: bool = False
    #: Set by the adapter: the event came from a direct message, where the bot cannot post a
    #: channel's daily question.
    in_direct_message: bool = False


@dataclass(frozen=True)
class _Ids:
    workspace_id: int
    channel_id: int | None
    member_id: int
    display_name: str


@dataclass(frozen=True)
class ChannelDefaults:
    timezone: str = "UTC"
    post_time: time = time(9, 0)
    answer_window_minutes: int = 23 * 60


async def get_or_create(
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
        defaults: ChannelDefaults | None = None,
    ):
        self._sessions = sessions
        self._clock = clock
        self.defaults = defaults or ChannelDefaults()
        self._cache: OrderedDict[tuple[str, str, str | None, str], _Ids] = OrderedDict()
        #: Write transactions ``resolve`` made (tests and benchmarks read it).
        self.writes = 0

    async def resolve(
        self,
        platform: Platform,
        workspace_external_id: str,
        member_external_id: str,
        *,
        channel_external_id: str | None = None,
        workspace_name: str = "",
        channel_name: str = "",
        member_name: str = "",
        is_admin: bool = False,
    ) -> Actor:
        key = (platform.value, workspace_external_id, channel_external_id, member_external_id)
        member_name = member_name[:MAX_NAME]
        ids = self._cache.get(key)
        if ids is None or (member_name and ids.display_name != member_name):
            ids = await self._lookup(
                platform, workspace_external_id, channel_external_id, member_external_id
            )
            if ids is None or (member_name and ids.display_name != member_name):
                ids = await self._create(
                    platform,
                    workspace_external_id,
                    channel_external_id,
                    member_external_id,
                    workspace_name=workspace_name,
                    channel_name=channel_name,
                    member_name=member_name,
                )
            self._remember(key, ids)
        else:
            self._cache.move_to_end(key)
        return Actor(
            platform=platform,
            workspace_id=ids.workspace_id,
            workspace_external_id=workspace_external_id,
            member_id=ids.member_id,
            member_external_id=member_external_id,
            display_name=ids.display_name,
            channel_id=ids.channel_id,
            channel_external_id=channel_external_id,
            is_admin=is_admin,
        )

    async def find_member(
        self, platform: Platform, workspace_external_id: str, member_external_id: str
    ) -> int | None:
        """The member's id if the bot has seen them in that workspace; never creates one (a
        command naming someone must not add a row for any id typed)."""
        ids = await self._lookup(platform, workspace_external_id, None, member_external_id)
        return None if ids is None else ids.member_id

    def _remember(self, key: tuple[str, str, str | None, str], ids: _Ids) -> None:
        self._cache[key] = ids
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _lookup(
        self,
        platform: Platform,
        workspace_external_id: str,
        channel_external_id: str | None,
        member_external_id: str,
    ) -> _Ids | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(
                        id_column(Workspace.id), id_column(Member.id), col(Member.display_name)
                    )
                    .join(Member, col(Member.workspace_id) == Workspace.id)
                    .where(
                        col(Workspace.platform) == platform,
                        col(Workspace.external_id) == workspace_external_id,
                        col(Member.external_id) == member_external_id,
                    )
                )
            ).first()
            if row is None:
                return None
            workspace_id, member_id, name = row
            channel_id = None
            if channel_external_id is not None:
                channel_id = (
                    await session.execute(
                        sa.select(id_column(Channel.id)).where(
                            col(Channel.workspace_id) == workspace_id,
                            col(Channel.external_id) == channel_external_id,
                        )
                    )
                ).scalar_one_or_none()
                if channel_id is None:
                    return None
        return _Ids(workspace_id, channel_id, member_id, name)

    async def _create(
        self,
        platform: Platform,
        workspace_external_id: str,
        channel_external_id: str | None,
        member_external_id: str,
        *,
        workspace_name: str,
        channel_name: str,
        member_name: str,
    ) -> _Ids:
        now = self._clock.now()
        self.writes += 1
        async with transaction(self._sessions) as session:
            workspace = await get_or_create(
                session,
                Workspace,
                {"platform": platform, "external_id": workspace_external_id},
                self._workspace_defaults(workspace_name, True, now),
            )
            assert workspace.id is not None
            channel_id = None
            if channel_external_id is not None:
                channel = await get_or_create(
                    session,
                    Channel,
                    {"workspace_id": workspace.id, "external_id": channel_external_id},
                    self._channel_defaults(channel_name, now),
                )
                channel_id = channel.id
            member = await get_or_create(
                session,
                Member,
                {"workspace_id": workspace.id, "external_id": member_external_id},
                {"display_name": member_name, "created_at": now, "nudges": False},
            )
            if member_name and member.display_name != member_name:
                member.display_name = member_name
                session.add(member)
            assert member.id is not None
            return _Ids(workspace.id, channel_id, member.id, member.display_name)

    def _workspace_defaults(self, name: str, enabled: bool, now: Any) -> dict[str, Any]:
        return {
            "name": name[:MAX_NAME],
            "timezone": self.defaults.timezone,
            "enabled": enabled,
            "admin_ids": [],
            "created_at": now,
        }

    def _channel_defaults(self, name: str, now: Any) -> dict[str, Any]:
        return {
            "name": name[:MAX_NAME],
            "post_time": self.defaults.post_time,
            "timezone": self.defaults.timezone,
            "post_days": [0, 1, 2, 3, 4],
            "topics": [],
            "skip_dates": [],
            "answer_window_minutes": self.defaults.answer_window_minutes,
            "enabled": False,
            "created_at": now,
            "updated_at": now,
        }

    async def workspace(
        self, platform: Platform, external_id: str, name: str = "", *, enabled: bool = True
    ) -> Workspace:
        """Get or create a workspace (a Slack install, a guild join); re-enables it."""
        async with transaction(self._sessions) as session:
            workspace = await get_or_create(
                session,
                Workspace,
                {"platform": platform, "external_id": external_id},
                self._workspace_defaults(name, enabled, self._clock.now()),
            )
            if workspace.enabled != enabled or (name and workspace.name != name[:MAX_NAME]):
                workspace.enabled = enabled
                workspace.name = name[:MAX_NAME] or workspace.name
                session.add(workspace)
            return workspace

    async def set_workspace_enabled(
        self, platform: Platform, external_id: str, enabled: bool
    ) -> bool:
        """Disable (uninstall, bot removed) or re-enable a workspace; False if unknown."""
        async with transaction(self._sessions) as session:
            result = await session.execute(
                sa.update(Workspace)
                .where(
                    col(Workspace.platform) == platform, col(Workspace.external_id) == external_id
                )
                .values(enabled=enabled)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def enabled_workspaces(self, platform: Platform) -> list[str]:
        """The external ids of the platform's enabled workspaces."""
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(col(Workspace.external_id)).where(
                    col(Workspace.platform) == platform, col(Workspace.enabled).is_(True)
                )
            )
            return list(rows.scalars())

    async def member(self, workspace_id: int, external_id: str, display_name: str = "") -> Member:
        async with transaction(self._sessions) as session:
            member = await get_or_create(
                session,
                Member,
                {"workspace_id": workspace_id, "external_id": external_id},
                {"display_name": display_name[:MAX_NAME], "created_at": self._clock.now()},
            )
            if display_name and member.display_name != display_name[:MAX_NAME]:
                member.display_name = display_name[:MAX_NAME]
                session.add(member)
            return member

    async def set_nudges(self, member_id: int, enabled: bool) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(Member).where(col(Member.id) == member_id).values(nudges=enabled)
            )

    async def is_listed_admin(self, workspace_id: int, member_external_id: str) -> bool:
        async with self._sessions() as session:
            admins = (
                await session.execute(
                    sa.select(col(Workspace.admin_ids)).where(col(Workspace.id) == workspace_id)
                )
            ).scalar_one_or_none()
        return member_external_id in (admins or [])

    async def set_admins(self, workspace_id: int, admin_ids: list[str]) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.update(Workspace)
                .where(col(Workspace.id) == workspace_id)
                .values(admin_ids=sorted(set(admin_ids)))
            )
