"""Discord beside Slack in one process and one event loop: one Server, one dispatcher, one
scheduler, each platform's messages through its own notifier."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.app import BotApp
from bot.runtime import Server, load_adapter
from bot.services.channels import ConfigChange
from bot.storage.models import Platform
from tests.adapters.discord.conftest import discord_settings
from tests.adapters.slack.conftest import SECRET, TOKEN
from tests.fakes.discord_api import ALICE, CHANNEL_A, GUILD_A, embeds_text
from tests.fakes.graders import ScriptedGrader
from tests.fakes.slack_api import FakeSlack, SlackSim

EVERY_DAY_AT_EIGHT = ConfigChange(enabled=True, days="daily", post_time="08:00", timezone="UTC")


async def test_slack_and_discord_share_one_process(engine, database_url, fake_discord, clock, rng):
    async with FakeSlack() as fake_slack:
        fake_slack.add_team(TOKEN, "T1", "Team One")
        fake_slack.add_user("UADMIN", "Ada Admin", admin=True)
        settings = discord_settings(
            database_url,
            fake_discord,
            slack_bot_token=TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fake_slack.api_url,
        )
        assert settings.chat_adapters == ["slack", "discord"]
        grader = ScriptedGrader()
        app = await BotApp.create(
            settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
        )
        adapters = [load_adapter(name, settings) for name in settings.chat_adapters]
        server = Server(app, adapters, port=0, host="127.0.0.1")
        await server.start()
        try:
            discord_adapter = adapters[1]
            await asyncio.wait_for(discord_adapter.ready.wait(), 10)  # type: ignore[attr-defined]
            # one scheduled channel on each platform; the one dispatcher delivers both
            for platform, workspace, channel in (
                (Platform.SLACK, "T1", "C1"),
                (Platform.DISCORD, GUILD_A, CHANNEL_A),
            ):
                admin = await app.directory.resolve(
                    platform, workspace, "1", channel_external_id=channel, is_admin=True
                )
                await app.channels.update(admin, admin.channel_id, EVERY_DAY_AT_EIGHT)
                assert await app.daily.open_due(admin.channel_id) is not None
            posted = await fake_discord.wait_call("POST", rf"channels/{CHANNEL_A}/messages")
            assert "Today's interview question" in embeds_text(posted.body)
            [slack_post] = await fake_slack.wait_for("chat.postMessage")
            assert slack_post.data["channel"] == "C1"

            # each platform's members are answered on the same loop
            ref = await fake_discord.slash("practice", member=ALICE)
            assert "Practice question" in embeds_text(await fake_discord.first_reply(ref))
            async with aiohttp.ClientSession() as session:
                slack = SlackSim(
                    f"http://127.0.0.1:{server.bound_port}/slack/events",
                    SECRET,
                    fake_slack,
                    session,
                )
                response = await slack.command("help", user="UADMIN")
                assert response.status == 200
                health = await (
                    await session.get(f"http://127.0.0.1:{server.bound_port}/healthz")
                ).json()
            assert health["adapters"]["discord"] == "connected"
            assert set(health["adapters"]) == {"slack", "discord"}
        finally:
            await server.stop()
