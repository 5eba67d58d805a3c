"""Events API: the App Home tab (the member's stats, recent grades, open questions and buttons)
and the workspace lifecycle (uninstall, revoked tokens: nothing is posted there any more)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import render
from bot.adapters.slack.bridge import SlackBridge, team_of
from bot.storage.models import Platform


def register(bolt: AsyncApp, bridge: SlackBridge) -> None:
    @bolt.event("app_home_opened")
    async def on_home(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            bridge.spawn(publish_home(bridge, team_of(body), str(event["user"]), client), "home")

    @bolt.event("app_uninstalled")
    async def on_uninstalled(body: dict[str, Any]) -> None:
        bridge.spawn(disable(bridge, team_of(body), everything=True), "uninstall")

    @bolt.event("tokens_revoked")
    async def on_revoked(body: dict[str, Any], event: dict[str, Any]) -> None:
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            bridge.spawn(disable(bridge, team_of(body), everything=False), "revoke")

    @bolt.event(re.compile(".*"))  # registered last: Bolt runs the first listener that matches
    async def on_other_event() -> None:
        """Events the app does not act on (an ``app_mention`` or ``message`` subscription added
        in the app's settings): acknowledged with 200. Bolt answered 404 and logged a warning,
        and Slack retries every event that does not get a 200."""


async def publish_home(
    bridge: SlackBridge, team_id: str, user_id: str, client: AsyncWebClient
) -> None:
    actor = await bridge.actor(client, team_id=team_id, user_id=user_id)
    card = await bridge.app.home.card(actor)
    await client.views_publish(user_id=user_id, view=render.home_view(card))


async def disable(bridge: SlackBridge, team_id: str, *, everything: bool) -> None:
    """Nothing is posted in the workspace any more; in OAuth mode its stored tokens go too."""
    await bridge.app.directory.set_workspace_enabled(Platform.SLACK, team_id, False)
    if bridge.forget_tokens is not None:
        await bridge.forget_tokens(team_id, everything)
