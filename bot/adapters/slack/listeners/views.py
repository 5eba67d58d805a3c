"""Modal submissions, answered within Slack's 3 seconds with ``response_action``.

- The answer form: the only work before the acknowledgement is ``directory.resolve`` (cached
  since the Answer button resolved the member) and ``answers.submit`` (one group-commit write).
  A refused answer (empty, too long, unknown question) or a failure to store it comes back as an
  error under the input, never as a silent drop; a stored one turns the modal into the receipt.
  The grade follows privately when the grading worker is done.
- Channel settings and the custom question form: the service validates the whole change and
  names each wrong field; the errors show under their inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import render
from bot.adapters.slack.bridge import SlackBridge, team_of
from bot.domain.answers import AnswerRejected
from bot.services.answers import AnswerTarget, Receipt
from bot.services.cards import CardKind
from bot.services.channels import ConfigChange, NotAllowed, SettingsRejected
from bot.services.commands import Command, CommandName

log = logging.getLogger(__name__)

#: The longest a form's acknowledgement waits for the member's Slack profile (users.info, when
#: not cached: the form was opened more than a minute ago): Slack shows an error after 3 s,
#: and a rate-limited users.info waits for its Retry-After.
PROFILE_WAIT_SECONDS = 1.5
SLACK_SLOW = (
    "Slack did not say in time whether you may change this; nothing was changed. "
    "Please submit again."
)


STORE_FAILED = "Your answer could not be stored just now. Nothing was lost: send it again."
SAVE_FAILED = "This could not be saved just now; nothing was changed. Please try again."


class ProfileTooSlow(Exception):
    """users.info did not answer within ``PROFILE_WAIT_SECONDS``."""


def register(bolt: AsyncApp, bridge: SlackBridge) -> None:
    @bolt.view(render.ANSWER_VIEW)
    async def on_answer(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await submit_answer(bridge, ack, body, view)

    @bolt.view(render.CONFIG_VIEW)
    async def on_config(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await submit_config(bridge, ack, body, view, client)

    @bolt.view(render.DISPUTE_VIEW)
    async def on_dispute(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await submit_dispute(bridge, ack, body, view)

    @bolt.view(render.QUESTION_VIEW)
    async def on_question(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await submit_question(bridge, ack, body, view, client)


def _values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state") or {}
    values = state.get("values") or {}
    return values if isinstance(values, Mapping) else {}


async def store_answer(
    bridge: SlackBridge, body: Mapping[str, Any], view: Mapping[str, Any]
) -> Receipt | str:
    """Store the submitted answer: its receipt, or the message to show under the input. The
    same submission twice (one modal version, the same text) stores one answer; both get its
    receipt."""
    text = render.input_value(_values(view), render.ANSWER_BLOCK, render.ANSWER_ACTION) or ""
    key = None
    user = (body.get("user") or {}).get("id")
    if view.get("id") and user:
        team = (body.get("team") or {}).get("id") or body.get("team_id") or ""
        key = (str(team), str(user), str(view["id"]), str(view.get("hash") or ""), text)
    outcome: Receipt | str = await bridge.submissions.once(
        key, lambda: _store_answer(bridge, body, view, text), keep=_is_receipt
    )
    return outcome


def _is_receipt(outcome: Any) -> bool:
    return isinstance(outcome, Receipt)


async def _store_answer(
    bridge: SlackBridge, body: Mapping[str, Any], view: Mapping[str, Any], text: str
) -> Receipt | str:
    meta = render.read_metadata(view.get("private_metadata"))
    channel = meta.get("c") or None
    try:
        target = AnswerTarget.decode(str(meta.get("t") or ""))
        actor = await bridge.actor(
            None,
            team_id=team_of(body),
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=channel,
        )
        return await bridge.app.answers.submit(
            actor, target, text, reply_context={"channel": channel} if channel else {}
        )
    except AnswerRejected as rejected:
        return rejected.message
    except Exception as exc:
        log.warning("storing an answer failed: %s", type(exc).__name__)
        return STORE_FAILED


def answer_reply(outcome: Receipt | str) -> dict[str, Any]:
    """The acknowledgement's fields: the modal turned into the receipt, or the field error."""
    if isinstance(outcome, Receipt):
        return {
            "response_action": "update",
            "view": render.card_modal("Answer received", outcome.card),
        }
    return {"response_action": "errors", "errors": {render.ANSWER_BLOCK: outcome}}


async def submit_answer(
    bridge: SlackBridge, ack: AsyncAck, body: Mapping[str, Any], view: Mapping[str, Any]
) -> None:
    await ack(**answer_reply(await store_answer(bridge, body, view)))


async def _admin_actor(
    bridge: SlackBridge, body: Mapping[str, Any], meta: Mapping[str, Any], client: AsyncWebClient
) -> Any:
    try:
        return await bridge.actor(
            client,
            team_id=team_of(body),
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=meta.get("c") or None,
            with_admin=True,
            within=PROFILE_WAIT_SECONDS,
        )
    except TimeoutError:
        raise ProfileTooSlow from None


def config_change(values: Mapping[str, Any]) -> ConfigChange:
    """The settings form's inputs as the change the service validates."""

    def text(name: str) -> str | None:
        return render.input_value(values, name)

    enabled = text("enabled")
    return ConfigChange(
        enabled=None if enabled is None else enabled == "on",
        post_time=text("post_time"),
        timezone=text("timezone"),
        days=text("days"),
        cadence=text("cadence"),
        answer_window=text("answer_window"),
        track=text("track"),
        topics=text("topics") or "",
    )


async def submit_config(
    bridge: SlackBridge,
    ack: AsyncAck,
    body: Mapping[str, Any],
    view: Mapping[str, Any],
    client: AsyncWebClient,
) -> None:
    meta = render.read_metadata(view.get("private_metadata"))
    try:
        actor = await _admin_actor(bridge, body, meta, client)
        reply = await bridge.app.commands.apply_config(
            actor, int(meta.get("ch") or 0), config_change(_values(view))
        )
    except SettingsRejected as rejected:
        errors = render.field_errors(rejected.errors, render.CONFIG_FIELDS, "enabled")
        await ack(response_action="errors", errors=errors)
        return
    except NotAllowed as refused:
        await ack(response_action="errors", errors={"enabled": str(refused)})
        return
    except ProfileTooSlow:
        await ack(response_action="errors", errors={"enabled": SLACK_SLOW})
        return
    except Exception as exc:
        log.warning("saving channel settings failed: %s", type(exc).__name__)
        await ack(response_action="errors", errors={"enabled": SAVE_FAILED})
        return
    await ack(response_action="update", view=render.card_modal("Channel settings", reply.cards[0]))


async def submit_question(
    bridge: SlackBridge,
    ack: AsyncAck,
    body: Mapping[str, Any],
    view: Mapping[str, Any],
    client: AsyncWebClient,
) -> None:
    meta = render.read_metadata(view.get("private_metadata"))
    values = _values(view)
    yaml_text = render.input_value(values, render.QUESTION_BLOCK) or ""
    for_date = (render.input_value(values, render.DATE_BLOCK) or "").strip() or None
    try:
        actor = await _admin_actor(bridge, body, meta, client)
        reply = await bridge.app.commands.queue_custom(
            actor, int(meta.get("ch") or 0), yaml_text, for_date
        )
    except SettingsRejected as rejected:
        fields = (render.QUESTION_BLOCK, render.DATE_BLOCK)
        errors = render.field_errors(rejected.errors, fields, render.QUESTION_BLOCK)
        await ack(response_action="errors", errors=errors)
        return
    except NotAllowed as refused:
        await ack(response_action="errors", errors={render.QUESTION_BLOCK: str(refused)})
        return
    except ProfileTooSlow:
        await ack(response_action="errors", errors={render.QUESTION_BLOCK: SLACK_SLOW})
        return
    except Exception as exc:
        log.warning("queueing a custom question failed: %s", type(exc).__name__)
        await ack(response_action="errors", errors={render.QUESTION_BLOCK: SAVE_FAILED})
        return
    await ack(response_action="update", view=render.card_modal("Question queued", reply.cards[0]))


async def submit_dispute(
    bridge: SlackBridge, ack: AsyncAck, body: Mapping[str, Any], view: Mapping[str, Any]
) -> None:
    """``dispute <answer> <reason>``: a refusal shows under the reason, the outcome replaces
    the form."""
    meta = render.read_metadata(view.get("private_metadata"))
    reason = (render.input_value(_values(view), render.REASON_BLOCK) or "").strip()
    channel = meta.get("c") or None
    try:
        actor = await bridge.actor(
            None,
            team_id=team_of(body),
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=channel,
        )
        command = Command(
            CommandName.DISPUTE,
            args=(str(meta.get("a") or ""), reason),
            reply_context={"channel": channel} if channel else {},
        )
        reply = await bridge.app.commands.run(actor, command)
    except Exception as exc:
        log.warning("a dispute failed: %s", type(exc).__name__)
        await ack(response_action="errors", errors={render.REASON_BLOCK: SAVE_FAILED})
        return
    card = reply.cards[0] if reply.cards else None
    if card is None or card.kind is CardKind.ERROR:
        message = (card.title.removeprefix("⚠️ ") if card else "") or SAVE_FAILED
        await ack(response_action="errors", errors={render.REASON_BLOCK: message})
        return
    await ack(response_action="update", view=render.card_modal("Dispute", card))
