"""The adapter as ``python -m bot run`` starts it: sharded clients, the runtime's server with the
background parts running, and ``python -m bot discord sync`` as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import ClientSession

from bot.adapters.discord.app import InterviewShardedClient
from bot.app import BotApp
from bot.runtime import AdapterUnavailable, Server, load_adapter
from bot.services.channels import ConfigChange
from bot.storage.models import OutboxMessage, OutboxStatus, Platform
from tests.adapters.discord.conftest import discord_settings, eventually, start_world, stop_world
from tests.adapters.test_console import MINI_BANK
from tests.fakes.discord_api import ALICE, CHANNEL_A, GUILD_A, FakeDiscord, embeds_text
from tests.fakes.graders import ScriptedGrader
from tests.processes import bot_environment

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A port nobody listens on now (server mode always serves /healthz and /metrics)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_two_shards_start_and_shard_one_handles_an_interaction(
    engine, database_url, fake_discord, clock, rng
):
    settings = discord_settings(database_url, fake_discord, discord_shards="2")
    world = await start_world(settings, fake_discord, clock, rng, ScriptedGrader())
    try:
        client = world.adapter.client
        assert isinstance(client, InterviewShardedClient)
        assert sorted(client.shards) == [0, 1]
        assert sorted(tuple(identify["shard"]) for identify in fake_discord.identifies) == [
            (0, 2),
            (1, 2),
        ]
        assert all(identify["intents"] == 1 for identify in fake_discord.identifies)  # GUILDS
        ref = await fake_discord.slash("practice", member=ALICE, shard=1)
        assert "Practice question" in embeds_text(await fake_discord.first_reply(ref))
    finally:
        await stop_world(world)


async def test_auto_sharding_takes_discords_recommendation(
    engine, database_url, fake_discord, clock, rng
):
    fake_discord.recommended_shards = 2
    settings = discord_settings(database_url, fake_discord, discord_shards="auto")
    world = await start_world(settings, fake_discord, clock, rng, ScriptedGrader())
    try:
        assert fake_discord.calls_to("GET", "gateway/bot")
        assert sorted(world.adapter.client.shards) == [0, 1]
    finally:
        await stop_world(world)


async def test_server_mode_posts_through_the_running_dispatcher(
    engine, database_url, fake_discord, clock, rng
):
    """The runtime's Server: adapter start, worker + dispatcher running in the background."""
    settings = discord_settings(database_url, fake_discord)
    assert settings.chat_adapters == ["discord"]
    grader = ScriptedGrader()
    app = await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )
    adapter = load_adapter("discord", settings)
    server = Server(app, [adapter], port=0, host="127.0.0.1")
    await server.start()
    try:
        admin = await app.directory.resolve(
            Platform.DISCORD, GUILD_A, "1", channel_external_id=CHANNEL_A, is_admin=True
        )
        await app.channels.update(
            admin, admin.channel_id, ConfigChange(enabled=True, days="daily", post_time="08:00")
        )
        assert await app.daily.open_due(admin.channel_id) is not None  # wakes the dispatcher
        call = await fake_discord.wait_call("POST", rf"channels/{CHANNEL_A}/messages")
        assert "Today's interview question" in embeds_text(call.body)

        async def sent() -> bool | None:
            async with app.sessions() as session:
                status = (await session.execute(sa.select(OutboxMessage.status))).scalar_one()
            return True if status is OutboxStatus.SENT else None

        await eventually(sent)
        await asyncio.wait_for(adapter.ready.wait(), 10)  # READY (after the guilds' wait)
        async with ClientSession() as http:
            response = await http.get(f"http://127.0.0.1:{server.bound_port}/healthz")
            health = await response.json()
        assert health["adapters"] == {"discord": "connected"}, health
    finally:
        await server.stop()


async def test_a_refused_token_stops_the_start_in_one_line(
    engine, database_url, fake_discord, clock, rng
):
    fake_discord.fail("GET", "users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    settings = discord_settings(database_url, fake_discord)
    grader = ScriptedGrader()
    app = await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )
    try:
        with pytest.raises(AdapterUnavailable, match="Discord refused DISCORD_TOKEN"):
            await load_adapter("discord", settings).start(app, None)  # type: ignore[arg-type]
    finally:
        await app.close()


async def _run_cli(fake: FakeDiscord, *args: str, token: str = "test-token") -> tuple[int, str]:
    env = bot_environment(
        DISCORD_TOKEN=token,
        DISCORD_API_URL=fake.api_url,
        QUESTIONS_DIR=str(MINI_BANK),
        DATABASE_URL="sqlite:///unused.db",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "discord",
        "sync",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode()


async def test_discord_sync_command_registers_the_tree_and_exits(fake_discord):
    code, output = await _run_cli(fake_discord)
    assert code == 0, output
    assert "synced 1 command(s) globally" in output and "/interview" in output
    [payload] = fake_discord.synced["global"]
    assert payload["name"] == "interview"

    code, output = await _run_cli(fake_discord, "--guild", "123456789012345678")
    assert code == 0, output
    assert "synced 1 command(s) to guild 123456789012345678" in output
    assert fake_discord.synced["123456789012345678"][0]["name"] == "interview"
    assert not fake_discord.calls_to("GET", "gateway.*")  # REST only, no gateway

    fake_discord.fail("GET", "users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    code, output = await _run_cli(fake_discord)
    assert code == 1
    assert output.strip().splitlines() == [
        "error: Discord refused DISCORD_TOKEN (check the bot token)"
    ]


async def test_python_m_bot_run_serves_discord_until_sigterm(fake_discord, tmp_path):
    """The real entry point: settings from the environment, the runtime, the gateway, a command
    answered, and a clean exit on SIGTERM."""
    import signal

    env = bot_environment(
        DISCORD_TOKEN="test-token",
        DISCORD_API_URL=fake_discord.api_url,
        DISCORD_GATEWAY_URL=fake_discord.gateway_url,
        QUESTIONS_DIR=str(MINI_BANK),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        LOG_LEVEL="WARNING",
        HTTP_PORT=str(free_port()),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await fake_discord.wait_shards(1, within=120)
        ref = await fake_discord.slash("practice", member=ALICE)
        assert "Practice question" in embeds_text(await fake_discord.first_reply(ref, within=30))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    assert "Traceback" not in output.decode()


async def test_an_event_discord_py_cannot_read_does_not_end_the_gateway(world, caplog):
    """discord.py's parsers run in the socket's reading loop: an interaction without a field
    they index (here ``version``) raised KeyError out of ``Client.connect`` and the bot stayed
    off Discord, /healthz still saying connected. Now it reconnects."""
    fake = world.fake
    world.adapter.reconnect_seconds = 0.05
    data = {
        "id": "7100000000000000001",
        "name": "interview",
        "type": 1,
        "options": [{"name": "help", "type": 1, "options": []}],
    }
    ref, payload = fake._interaction(
        2, data, member=ALICE, guild_id=GUILD_A, channel_id=CHANNEL_A, permissions="0"
    )
    del payload["version"]
    await fake.send_interaction(payload)

    async def reconnected() -> bool | None:
        read_again = "could not read an event" in caplog.text and world.adapter.connected()
        return True if read_again and len(fake.identifies) >= 2 else None

    await eventually(reconnected)
    ref = await fake.slash("help", member=ALICE)
    assert "commands" in embeds_text(await fake.first_reply(ref))

    async def one_heartbeat() -> bool | None:  # the abandoned socket's heartbeat thread stopped
        beating = [t for t in threading.enumerate() if t.name.startswith("keep-alive-handler")]
        return True if len([t for t in beating if t.is_alive()]) == 1 else None

    await eventually(one_heartbeat)


async def test_healthz_says_disconnected_once_the_gateway_loop_has_ended(world):
    """The gateway loop ends for good on an error it does not recover from; the client still
    looks ready and open, so /healthz said connected while nothing read Discord any more."""

    async def up() -> bool | None:
        return world.adapter.connected() or None

    await eventually(up)
    task = world.adapter._task
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert world.adapter.client.is_ready() and not world.adapter.client.is_closed()
    assert not world.adapter.connected()
