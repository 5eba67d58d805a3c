"""What every Slack listener shares: the ``BotApp``, who sent an event (the ``Actor``, with
Slack's admin fact), the background tasks that run after the acknowledgement, and small helpers
to answer a member privately.

Nothing here decides a rule of the game: it reads Slack payloads and calls the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import render
from bot.app import BotApp
from bot.services.cards import Card
from bot.services.directory import Actor
from bot.storage.models import Platform

log = logging.getLogger(__name__)

#: How long a member's Slack profile (name, admin/owner) is trusted before users.info again.
PROFILE_SECONDS = 60.0
#: How long a failed users.info is remembered (the member is treated as a non-admin).
PROFILE_FAILURE_SECONDS = 10.0
#: Most profiles remembered per process.
PROFILE_CACHE_SIZE = 20_000


#: (team_id, everything) -> None: forget a workspace's bot tokens (everything: the whole
#: installation, on uninstall).
ForgetTokens = Callable[[str, bool], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Profile:
    name: str
    is_admin: bool


class Profiles:
    """users.info, cached briefly: the member's display name and whether they are a workspace
    admin or owner."""

    def __init__(
        self,
        *,
        ttl: float = PROFILE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, Profile]] = {}
        #: Lookups an acknowledgement stopped waiting for, still running (they fill the cache).
        self._pending: dict[tuple[str, str], asyncio.Task[Profile]] = {}
        #: users.info calls made (tests read it).
        self.lookups = 0

    def cached(self, team_id: str, user_id: str) -> Profile | None:
        entry = self._cache.get((team_id, user_id))
        if entry is not None and entry[0] > self._monotonic():
            return entry[1]
        return None

    async def get(
        self, client: AsyncWebClient, team_id: str, user_id: str, *, within: float | None = None
    ) -> Profile:
        """The member's profile. ``within``: raise ``TimeoutError`` after that many seconds (an
        acknowledgement waits on it); the lookup goes on and fills the cache for the next try."""
        profile = self.cached(team_id, user_id)
        if profile is not None:
            return profile
        if within is None:
            return await self._lookup(client, team_id, user_id)
        key = (team_id, user_id)
        task = self._pending.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._lookup(client, team_id, user_id))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.wait_for(asyncio.shield(task), within)

    async def idle(self) -> None:
        """Wait for the lookups no acknowledgement waits for any more (tests)."""
        await asyncio.gather(*self._pending.values(), return_exceptions=True)

    def _settled(self, key: tuple[str, str], task: asyncio.Task[Profile]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("users.info failed: %s", type(task.exception()).__name__)

    async def _lookup(self, client: AsyncWebClient, team_id: str, user_id: str) -> Profile:
        self.lookups += 1
        ttl = self._ttl
        try:
            response = await client.users_info(user=user_id)
            user = response.get("user") or {}
            details = user.get("profile") or {}
            name = (
                details.get("display_name")
                or details.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or ""
            )
            is_admin = bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            )
            profile = Profile(str(name), is_admin)
        except SlackApiError as exc:
            log.warning("users.info failed (%s); treating the member as a non-admin", _code(exc))
            profile, ttl = Profile("", False), PROFILE_FAILURE_SECONDS
        if len(self._cache) >= PROFILE_CACHE_SIZE:
            self._cache.clear()
        self._cache[(team_id, user_id)] = (self._monotonic() + ttl, profile)
        return profile


def _code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error"))
    except Exception:
        return type(exc).__name__


class Tasks:
    """The work done after an acknowledgement: kept (so it is not garbage-collected), logged
    when it fails (the error's type only: messages can quote user text), awaited by tests."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, name), name=f"slack-{name}")
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)

    async def _run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except SlackApiError as exc:
            log.warning("slack %s failed: Slack said %s", name, _code(exc))
        except Exception as exc:
            log.warning("slack %s failed: %s", name, type(exc).__name__)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    @property
    def is_idle(self) -> bool:
        return not self._tasks

    async def idle(self, within: float = 10.0) -> None:
        """Wait until no work is running (tests)."""
        await asyncio.wait_for(self._idle.wait(), within)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


#: How long a stored answer's submission is remembered (a second submission of the same modal
#: version with the same text is the same answer).
SUBMISSION_SECONDS = 60.0
#: Most submissions remembered per process.
SUBMISSION_CACHE_SIZE = 20_000


class Submissions:
    """The answer form's submissions seen lately, so that the same submission twice (a double
    submit of one modal, a replayed request: the same member, modal id, modal version and text)
    stores and grades one answer, and both get its receipt. Only stored answers are remembered:
    after a refusal or a failure the member can send the same text again. One process: another
    replica does not see them."""

    def __init__(
        self,
        *,
        ttl: float = SUBMISSION_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._ttl = ttl
        self._monotonic = monotonic
        self._seen: dict[tuple[str, ...], tuple[float, asyncio.Future[Any]]] = {}

    async def once(
        self,
        key: tuple[str, ...] | None,
        work: Callable[[], Coroutine[Any, Any, Any]],
        keep: Callable[[Any], bool],
    ) -> Any:
        """``work()``'s result, or the result of the same submission's earlier run (``keep``
        says which results are remembered)."""
        if key is None:
            return await work()
        now = self._monotonic()
        entry = self._seen.get(key)
        if entry is not None and entry[0] > now:
            return await asyncio.shield(entry[1])
        if len(self._seen) >= SUBMISSION_CACHE_SIZE:
            self._seen = {k: v for k, v in self._seen.items() if v[0] > now}
            if len(self._seen) >= SUBMISSION_CACHE_SIZE:
                self._seen.clear()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._seen[key] = (now + self._ttl, future)
        try:
            result = await work()
        except asyncio.CancelledError:
            self._seen.pop(key, None)
            future.cancel()
            raise
        except Exception as exc:
            self._seen.pop(key, None)
            future.set_exception(exc)
            future.exception()  # retrieved: a duplicate waiting on it re-raises it
            raise
        if not keep(result):
            self._seen.pop(key, None)
        future.set_result(result)
        return result


def team_of(body: Mapping[str, Any]) -> str:
    """The workspace a payload comes from (slash command, interaction or event)."""
    team = body.get("team")
    if isinstance(team, Mapping) and team.get("id"):
        return str(team["id"])
    if body.get("team_id"):
        return str(body["team_id"])
    user = body.get("user")
    if isinstance(user, Mapping) and user.get("team_id"):
        return str(user["team_id"])
    view = body.get("view")
    if isinstance(view, Mapping) and view.get("team_id"):
        return str(view["team_id"])
    raise ValueError("the payload names no workspace")


def team_name_of(body: Mapping[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, Mapping):
        return str(team.get("domain") or "")
    return str(body.get("team_domain") or "")


class SlackBridge:
    """Shared by the listeners of one ``SlackAdapter``."""

    def __init__(
        self,
        app: BotApp,
        *,
        profiles: Profiles | None = None,
        forget_tokens: ForgetTokens | None = None,
    ):
        self.app = app
        self.profiles = profiles or Profiles()
        self.tasks = Tasks()
        self.submissions = Submissions()
        #: OAuth mode: deletes a workspace's stored installation when its tokens are revoked.
        self.forget_tokens = forget_tokens

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.spawn(work, name)

    async def actor(
        self,
        client: AsyncWebClient | None,
        *,
        team_id: str,
        user_id: str,
        channel_id: str | None = None,
        team_name: str = "",
        channel_name: str = "",
        with_admin: bool = False,
        within: float | None = None,
    ) -> Actor:
        """The member behind an event. With a client, their Slack profile (cached) names them
        and says whether they are a workspace admin or owner; ``with_admin`` also consults the
        bot's own admin list. Without a client nothing but the directory's cache is used (the
        acknowledgement path of an answer). ``within`` bounds the profile lookup (seconds;
        ``TimeoutError`` after that)."""
        profile = (
            await self.profiles.get(client, team_id, user_id, within=within) if client else None
        )
        actor = await self.app.directory.resolve(
            Platform.SLACK,
            team_id,
            user_id,
            channel_external_id=channel_id,
            workspace_name=team_name,
            channel_name=channel_name
            if channel_name not in {"directmessage", "privategroup"}
            else "",
            member_name=profile.name if profile else "",
            is_admin=profile.is_admin if profile else False,
        )
        if with_admin and not actor.is_admin:
            listed = await self.app.directory.is_listed_admin(actor.workspace_id, user_id)
            if listed:
                actor = dataclasses.replace(actor, is_admin=True)
        return actor

    async def show_privately(
        self,
        card: Card,
        *,
        client: AsyncWebClient,
        respond: Any | None,
        response_url: str | None,
        trigger_id: str | None,
        title: str = "Interview practice",
    ) -> None:
        """A card only the member sees: an ephemeral reply through the response URL when the
        event has one, otherwise a modal (an App Home click)."""
        if response_url and respond is not None:
            await respond(**render.message(card), response_type="ephemeral", replace_original=False)
            return
        if trigger_id:
            await client.views_open(trigger_id=trigger_id, view=render.card_modal(title, card))
