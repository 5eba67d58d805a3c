"""The Slack adapter in a real server: BotApp + SlackAdapter + the runtime's aiohttp server on
127.0.0.1, talking to the loopback fake of Slack (``tests/fakes/slack_api.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bot.adapters.slack.app import SlackAdapter
from bot.app import BotApp
from bot.config import load_settings
from bot.runtime import Server
from bot.services.channels import ConfigChange
from bot.storage.models import (
    Answer,
    AnswerStatus,
    OutboxMessage,
    OutboxStatus,
    Platform,
)
from tests.adapters.test_console import MINI_BANK
from tests.fakes.graders import ScriptedGrader
from tests.fakes.slack_api import FakeSlack, SlackSim

SECRET = "test-signing-secret"
TOKEN = "xoxb-team-one"


@pytest.fixture(autouse=True)
def no_proxies_or_stray_settings(monkeypatch):
    """slack_sdk follows HTTP(S)_PROXY even for 127.0.0.1; Bolt reads SLACK_* by itself."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_STATE_SECRET",
        "SLACK_API_URL",
        "SLACK_TOKEN_ENCRYPTION_KEY",
        "SLACK_SCOPES",
        "DISCORD_TOKEN",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_team(TOKEN, "T1", "Team One")
        fake.add_user("UADMIN", "Ada Admin", admin=True)
        fake.add_user("U1", "Alice")
        fake.add_user("U2", "Bob")
        yield fake


@dataclass
class SlackWorld:
    app: BotApp
    adapter: SlackAdapter
    server: Server
    fake: FakeSlack
    slack: SlackSim
    grader: ScriptedGrader

    async def settle(self, within: float = 20.0) -> None:
        """Let the background work finish: the listeners' tasks, grading, the outbox (the
        background worker and dispatcher run too, so wait until nothing is in flight)."""
        assert self.adapter.bridge is not None
        async with asyncio.timeout(within):
            while True:
                await self.adapter.bridge.tasks.idle()
                await self.app.worker.drain()
                await self.app.dispatcher.drain()
                if not await self._in_flight() and self.adapter.bridge.tasks.is_idle:
                    return
                await asyncio.sleep(0.02)

    async def _in_flight(self) -> int:
        now = self.app.clock.now()
        async with self.app.sessions() as session:
            answers = await session.execute(
                sa.select(sa.func.count(Answer.id)).where(
                    sa.or_(
                        Answer.status == AnswerStatus.GRADING,
                        sa.and_(
                            Answer.status == AnswerStatus.PENDING,
                            sa.or_(Answer.retry_at.is_(None), Answer.retry_at <= now),
                        ),
                    )
                )
            )
            messages = await session.execute(
                sa.select(sa.func.count(OutboxMessage.id)).where(
                    sa.or_(
                        OutboxMessage.status == OutboxStatus.SENDING,
                        sa.and_(
                            OutboxMessage.status == OutboxStatus.PENDING,
                            OutboxMessage.next_attempt_at <= now,
                        ),
                    )
                )
            )
            return int(answers.scalar_one()) + int(messages.scalar_one())

    async def schedule(self, channel: str = "C1", team: str = "T1", admin: str = "UADMIN") -> int:
        """A channel posting every day at 09:00 Europe/Berlin (set through the services)."""
        actor = await self.app.directory.resolve(
            Platform.SLACK, team, admin, channel_external_id=channel, is_admin=True
        )
        assert actor.channel_id is not None
        await self.app.channels.update(
            actor,
            actor.channel_id,
            ConfigChange(enabled=True, days="daily", post_time="09:00", timezone="Europe/Berlin"),
        )
        return actor.channel_id


def slack_settings(database_url: str, fake: FakeSlack, **overrides: Any):
    values: dict[str, Any] = {
        "database_url": database_url,
        "questions_dir": MINI_BANK,
        "default_timezone": "Europe/Berlin",
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": fake.api_url,
    }
    values.update(overrides)
    return load_settings(**values)


async def start_world(
    settings, fake: FakeSlack, clock, rng, grader: Any = None, *, real_graders: bool = False
) -> SlackWorld:
    """``real_graders``: the graders the settings choose (the LLM grader when an OpenAI URL is
    set); otherwise a scripted grader."""
    grader = grader or ScriptedGrader()
    graders = None if real_graders else (grader, grader)
    app = await BotApp.create(settings, clock=clock, rng=rng, graders=graders, migrate=False)
    adapter = SlackAdapter(settings)
    server = Server(app, [adapter], port=0, host="127.0.0.1")
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    session = aiohttp.ClientSession()
    slack = SlackSim(f"http://127.0.0.1:{server.bound_port}/slack/events", SECRET, fake, session)
    return SlackWorld(app, adapter, server, fake, slack, grader)


async def stop_world(world: SlackWorld) -> None:
    await world.slack.session.close()
    await world.server.stop()


@pytest.fixture
async def world(engine, database_url, fake_slack, clock, rng) -> AsyncIterator[SlackWorld]:
    settings = slack_settings(database_url, fake_slack)
    world = await start_world(settings, fake_slack, clock, rng)
    yield world
    await stop_world(world)
