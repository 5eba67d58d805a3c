"""``/interview <subcommand>``: acknowledged at once; the subcommand runs afterwards through
``InterviewCommands.run_text`` and its cards come back through the response URL (ephemeral when
the card is private), or its form (channel settings, a custom question) opens as a modal."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import render
from bot.adapters.slack.bridge import SlackBridge, team_name_of, team_of
from bot.adapters.slack.files import send_files
from bot.services.cards import error_card

COMMAND = "/interview"


def register(bolt: AsyncApp, bridge: SlackBridge) -> None:
    @bolt.command(COMMAND)
    async def interview(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        bridge.spawn(run_command(bridge, body, client, respond), "command")


async def run_command(
    bridge: SlackBridge, body: Mapping[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    try:
        await _run_command(bridge, body, client, respond)
    except Exception:
        await respond(**render.message(SORRY), response_type="ephemeral", replace_original=False)
        raise


SORRY = error_card("Something went wrong on our side; nothing was changed. Please try again.")


def in_direct_message(body: Mapping[str, Any]) -> bool:
    """A command typed in a direct message (Slack names the channel "directmessage")."""
    return body.get("channel_name") == "directmessage" or str(
        body.get("channel_id") or ""
    ).startswith("D")


async def _run_command(
    bridge: SlackBridge, body: Mapping[str, Any], client: AsyncWebClient, respond: AsyncRespond
) -> None:
    channel = body.get("channel_id") or None
    actor = await bridge.actor(
        client,
        team_id=team_of(body),
        user_id=str(body["user_id"]),
        channel_id=channel,
        team_name=team_name_of(body),
        channel_name=str(body.get("channel_name") or ""),
        with_admin=True,
    )
    # the service refuses channel settings there (the bot cannot post in a direct message)
    actor = dataclasses.replace(actor, in_direct_message=in_direct_message(body))
    reply = await bridge.app.commands.run_text(
        actor, str(body.get("text") or ""), reply_context={"channel": channel} if channel else {}
    )
    if reply.config_form is not None:
        form = reply.config_form
        view = render.config_modal(form, render.metadata(ch=form.channel_id, c=channel))
        await open_modal(client, body, respond, view)
    if reply.question_form is not None:
        question = reply.question_form
        view = render.question_modal(question, render.metadata(ch=question.channel_id, c=channel))
        await open_modal(client, body, respond, view)
    for card in reply.cards:
        await respond(
            **render.message(card),
            response_type="ephemeral" if card.private else "in_channel",
            replace_original=False,
        )
        await send_files(client, card, str(body["user_id"]))


async def open_modal(
    client: AsyncWebClient, body: Mapping[str, Any], respond: AsyncRespond, view: dict[str, Any]
) -> None:
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
    except SlackApiError as exc:
        if exc.response.get("error") not in {"expired_trigger_id", "invalid_trigger_id"}:
            raise
        card = error_card("Slack took too long to open the form: please run the command again.")
        await respond(**render.message(card), response_type="ephemeral", replace_original=False)
