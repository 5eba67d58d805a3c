"""A Discord world for adapter tests: the loopback fake of Discord, a ``BotApp`` on the test
database (SQLite and PostgreSQL) with a scripted grader and a manual clock, and the real
``DiscordAdapter`` connected to the fake. Tests drive the worker, the dispatcher and the daily
service by hand (``settle``), and wait on recorded REST calls, never on sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import discord
import pytest
import yarl
from aiohttp import web

from bot.adapters.discord import interactions
from bot.adapters.discord.app import DiscordAdapter
from bot.app import BotApp
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.services.directory import Actor
from bot.storage.models import Platform
from tests.adapters.test_console import MINI_BANK
from tests.fakes.discord_api import ADMIN, CHANNEL_A, GUILD_A, FakeDiscord
from tests.fakes.graders import ScriptedGrader

T = TypeVar("T")


@pytest.fixture
async def fake_discord(monkeypatch) -> AsyncIterator[FakeDiscord]:
    # A command slower than the budget is deferred (test_commands tests that with a small
    # budget); elsewhere a loaded test machine must not change which response a test sees.
    monkeypatch.setattr(interactions, "RESPONSE_BUDGET_SECONDS", 30.0)
    # the adapter points discord.py's class-level URLs at the fake; put them back afterwards
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        yarl.URL(str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)),
    )
    async with FakeDiscord() as fake:
        yield fake


def discord_settings(database_url: str, fake: FakeDiscord, **overrides: Any) -> Settings:
    return load_settings(
        database_url=database_url,
        questions_dir=MINI_BANK,
        discord_token="test-token",
        discord_api_url=fake.api_url,
        discord_gateway_url=fake.gateway_url,
        **overrides,
    )


@dataclass
class DiscordWorld:
    fake: FakeDiscord
    app: BotApp
    adapter: DiscordAdapter
    clock: ManualClock
    grader: ScriptedGrader
    settings: Settings

    async def settle(self) -> None:
        """Grade what is pending and deliver what is due."""
        await self.app.worker.drain()
        await self.app.dispatcher.drain()

    async def actor(
        self,
        member: dict[str, Any] = ADMIN,
        *,
        guild: str = GUILD_A,
        channel: str | None = CHANNEL_A,
        is_admin: bool = True,
    ) -> Actor:
        return await self.app.directory.resolve(
            Platform.DISCORD,
            guild,
            member["id"],
            channel_external_id=channel,
            member_name=member["global_name"],
            is_admin=is_admin,
        )


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 5.0, every: float = 0.01
) -> T:
    """Poll ``probe`` until it returns something (events the gateway delivers have no
    completion signal of their own); fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing after {within} s")
        await asyncio.sleep(every)


async def start_world(
    settings: Settings, fake: FakeDiscord, clock: ManualClock, rng, grader: ScriptedGrader
) -> DiscordWorld:
    app = await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )
    adapter = DiscordAdapter(settings, identify_spacing=0, guild_ready_timeout=0.05)
    try:
        await adapter.start(app, web.Application())
        app.dispatcher.add_notifier(adapter.notifier)
        await asyncio.wait_for(adapter.ready.wait(), 10)
    except BaseException:
        await adapter.stop()
        await app.close()
        raise
    return DiscordWorld(fake, app, adapter, clock, grader, settings)


async def stop_world(world: DiscordWorld) -> None:
    await world.adapter.stop()
    await world.app.close()


@pytest.fixture
async def world(engine, database_url, fake_discord, clock, rng) -> AsyncIterator[DiscordWorld]:
    settings = discord_settings(database_url, fake_discord)
    world = await start_world(settings, fake_discord, clock, rng, ScriptedGrader())
    yield world
    await stop_world(world)
