"""Slack events -> service calls, one module per kind of event (the Bolt starter's layout)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.adapters.slack.bridge import SlackBridge
from bot.adapters.slack.listeners import actions, commands, events, views


def register(bolt: AsyncApp, bridge: SlackBridge) -> None:
    commands.register(bolt, bridge)
    actions.register(bolt, bridge)
    views.register(bolt, bridge)
    events.register(bolt, bridge)
