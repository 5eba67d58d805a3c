"""Buttons on cards: Answer (daily, practice or a mock interview's turn) opens the private answer
form; Practice, Today and Review run those subcommands; Skip and Stop drive a mock interview;
Stop reminders turns nudges off; Dispute opens a form for the reason, Accept and Escalate answer
a re-grade. Each click is acknowledged at once; the work and the modal follow (Slack's trigger
stays valid for 3 seconds)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import render
from bot.adapters.slack.bridge import SlackBridge, team_name_of, team_of
from bot.adapters.slack.files import send_files
from bot.domain.answers import AnswerRejected, RejectionReason
from bot.services.answers import AnswerTarget
from bot.services.cards import ButtonAction, Card, error_card
from bot.services.commands import Command, CommandName
from bot.services.directory import Actor
from bot.services.disputes import DisputeRefused

ACTIONS = re.compile(
    r"^(" + "|".join(re.escape(action.value) for action in ButtonAction) + r")(#\d+)?$"
)
ANSWER_ACTIONS = {ButtonAction.ANSWER_DAILY, ButtonAction.ANSWER_PRACTICE, ButtonAction.ANSWER_MOCK}
#: Buttons that run a subcommand (with these arguments).
COMMAND_OF: dict[ButtonAction, tuple[CommandName, tuple[str, ...]]] = {
    ButtonAction.PRACTICE: (CommandName.PRACTICE, ()),
    ButtonAction.TODAY: (CommandName.TODAY, ()),
    ButtonAction.REVIEW: (CommandName.REVIEW, ()),
    ButtonAction.NUDGES_OFF: (CommandName.NUDGES, ("off",)),
    ButtonAction.MOCK_SKIP: (CommandName.MOCK, ("skip",)),
    ButtonAction.MOCK_STOP: (CommandName.MOCK, ("stop",)),
}
#: Buttons whose command offers a question: from the App Home its form opens at once.
OFFERS_QUESTION = {ButtonAction.PRACTICE, ButtonAction.TODAY, ButtonAction.REVIEW}


def register(bolt: AsyncApp, bridge: SlackBridge) -> None:
    @bolt.action(ACTIONS)
    async def on_button(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        bridge.spawn(guarded(bridge, body, action, client, respond), "button")


async def guarded(
    bridge: SlackBridge,
    body: Mapping[str, Any],
    action: Mapping[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """A failure tells the member (when a reply is possible) and is logged by the task."""
    try:
        await handle_button(bridge, body, action, client, respond)
    except Exception:
        if body.get("response_url"):
            sorry = error_card("Something went wrong on our side. Please try again.")
            await respond(
                **render.message(sorry), response_type="ephemeral", replace_original=False
            )
        raise


def channel_of(body: Mapping[str, Any]) -> str | None:
    """The channel of the message the button is on (None on the App Home or in a modal)."""
    channel = body.get("channel")
    if isinstance(channel, Mapping) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, Mapping) and container.get("channel_id"):
        return str(container["channel_id"])
    return None


def in_modal(body: Mapping[str, Any]) -> bool:
    view = body.get("view")
    return isinstance(view, Mapping) and view.get("type") == "modal"


async def handle_button(
    bridge: SlackBridge,
    body: Mapping[str, Any],
    action: Mapping[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    kind = render.parse_action_id(str(action.get("action_id", "")))
    channel = channel_of(body)
    user = body.get("user") or {}
    channel_info = body.get("channel") or {}
    actor = await bridge.actor(
        client,
        team_id=team_of(body),
        user_id=str(user.get("id", "")),
        channel_id=channel,
        team_name=team_name_of(body),
        channel_name=str(channel_info.get("name") or ""),
    )
    value = str(action.get("value") or "")
    if kind in ANSWER_ACTIONS:
        await open_answer_form(bridge, actor, kind, value, body, client, respond, channel)
        return
    if kind is ButtonAction.DISPUTE:
        await open_dispute_form(value, body, client, channel)
        return
    if kind in {ButtonAction.DISPUTE_ACCEPT, ButtonAction.DISPUTE_ESCALATE}:
        disputes = bridge.app.disputes
        try:
            decide = disputes.accept if kind is ButtonAction.DISPUTE_ACCEPT else disputes.escalate
            card = await decide(actor, int(value) if value.isdigit() else 0)
        except DisputeRefused as refused:
            card = error_card(str(refused))
        await _show(bridge, card, body, client, respond)
        return
    name, args = COMMAND_OF[kind]
    reply_context = {"channel": channel} if channel else {}
    command = Command(name, args=args, reply_context=reply_context)
    reply = await bridge.app.commands.run(actor, command)
    if kind in OFFERS_QUESTION and not body.get("response_url"):
        # the App Home (or a modal): no message to reply under, so go straight to the form
        for card in reply.cards:
            answer = next((b for b in card.buttons if b.action in ANSWER_ACTIONS), None)
            if answer is not None:
                await open_answer_form(
                    bridge, actor, answer.action, answer.value, body, client, respond, channel
                )
                return
    for card in reply.cards:
        await _show(bridge, card, body, client, respond)


async def open_answer_form(
    bridge: SlackBridge,
    actor: Actor,
    kind: ButtonAction,
    value: str,
    body: Mapping[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    channel: str | None,
) -> None:
    try:
        if not value.isdigit():
            raise AnswerRejected(RejectionReason.UNKNOWN_QUESTION, "That question does not exist.")
        make = {
            ButtonAction.ANSWER_DAILY: AnswerTarget.daily,
            ButtonAction.ANSWER_PRACTICE: AnswerTarget.practice,
            ButtonAction.ANSWER_MOCK: AnswerTarget.mock,
        }[kind]
        target = make(int(value))
        form = await bridge.app.answers.form(actor, target)
    except AnswerRejected as rejected:
        await _show(bridge, error_card(rejected.message), body, client, respond)
        return
    view = render.answer_modal(form, render.metadata(t=form.target.encode(), c=channel))
    trigger = str(body.get("trigger_id") or "")
    if in_modal(body):
        await client.views_push(trigger_id=trigger, view=view)
    else:
        await client.views_open(trigger_id=trigger, view=view)


async def open_dispute_form(
    value: str, body: Mapping[str, Any], client: AsyncWebClient, channel: str | None
) -> None:
    view = render.dispute_modal(render.metadata(a=value, c=channel))
    trigger = str(body.get("trigger_id") or "")
    if in_modal(body):
        await client.views_push(trigger_id=trigger, view=view)
    else:
        await client.views_open(trigger_id=trigger, view=view)


async def _show(
    bridge: SlackBridge,
    card: Card,
    body: Mapping[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    await bridge.show_privately(
        card,
        client=client,
        respond=respond,
        response_url=body.get("response_url"),
        trigger_id=None if in_modal(body) else body.get("trigger_id"),
    )
    member = (body.get("user") or {}).get("id")
    if member:
        await send_files(client, card, str(member))
