"""Delivers the outbox's cards to Slack (``bot.services.delivery.Notifier``).

- POST: ``chat.postMessage`` in the channel; the reference is ``"<channel>:<ts>"``.
- REPLY: the same in the thread of the parent post (``thread_ts``), or in the channel when the
  parent was never delivered.
- EDIT: ``chat.update`` of the parent post (the question becoming "closed · N answers").
- Files of a card (a chart, a transcript) follow it in the member's direct message
  (:mod:`bot.adapters.slack.files`).
- PRIVATE: ``chat.postEphemeral`` to the member in the channel of ``reply_context["channel"]``;
  when Slack refuses (the member left, the channel is gone, the bot is not in it) or the channel
  is a direct message, the card goes to the member's direct message with the bot instead
  (``conversations.open`` + ``chat.postMessage``).

Every call uses the workspace's own bot token (``TokenSource``). The Web API client retries a
429 once after its Retry-After (slack_sdk's rate-limit retry handler); a 429 that persists
becomes ``RetryLater(retry_after=...)`` so the outbox waits as long as Slack asked. Refusals
that will not change become ``PermanentDeliveryError``. Exception messages carry Slack's error
code only, never message text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack import render
from bot.adapters.slack.files import send_files
from bot.adapters.slack.installations import NotInstalled, TokenSource
from bot.services.delivery import Delivery, DeliveryError, PermanentDeliveryError, RetryLater
from bot.storage.models import DeliveryAction, Platform

#: Slack errors after which sending the same message again cannot work.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "cannot_dm_bot",
        "cant_update_message",
        "channel_not_found",
        "edit_window_closed",
        "ekm_access_denied",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "message_not_found",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_revoked",
        "too_many_attachments",
        "user_disabled",
        "user_not_found",
        "user_not_visible",
    }
)
#: Errors of chat.postEphemeral after which a direct message still reaches the member.
EPHEMERAL_FALLBACK_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "user_not_in_channel",
        "method_not_supported_for_channel_type",
    }
)
#: Message options: no auto-linking of names, no previews of links an answer may contain.
SEND_OPTIONS: dict[str, Any] = {"link_names": False, "unfurl_links": False, "unfurl_media": False}


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    try:
        code = response.get("error") if response is not None else None
    except Exception:
        code = None
    return str(code or f"http_{getattr(response, 'status_code', 'error')}")


def _retry_after(exc: SlackApiError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def translate(exc: BaseException) -> DeliveryError:
    """A Slack failure as the dispatcher's error: wait, give up, or retry with backoff."""
    if isinstance(exc, SlackApiError):
        code = _error_code(exc)
        status = getattr(exc.response, "status_code", 200)
        error: DeliveryError
        if status == 429 or code == "ratelimited":
            error = RetryLater(f"slack {code}", retry_after=_retry_after(exc))
        elif status >= 500 or code in {"fatal_error", "internal_error", "service_unavailable"}:
            error = RetryLater(f"slack {code}")
        elif code in PERMANENT_ERRORS:
            error = PermanentDeliveryError(f"slack {code}")
        else:
            error = DeliveryError(f"slack {code}")
        error.code = code  # type: ignore[attr-defined]
        return error
    if isinstance(exc, NotInstalled):
        error = PermanentDeliveryError("slack app not installed in the workspace")
        error.code = "not_installed"  # type: ignore[attr-defined]
        return error
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        error = RetryLater(f"slack unreachable ({type(exc).__name__})")
        error.code = type(exc).__name__  # type: ignore[attr-defined]
        return error
    return DeliveryError(type(exc).__name__)


def split_ref(ref: str) -> tuple[str, str]:
    """``"<channel>:<ts>"`` -> (channel, ts)."""
    channel, _, ts = ref.partition(":")
    if not channel or not ts:
        raise PermanentDeliveryError("not a Slack message reference")
    return channel, ts


class SlackNotifier:
    platform = Platform.SLACK

    def __init__(self, client: AsyncWebClient, tokens: TokenSource):
        self._client = client
        self._tokens = tokens

    async def _call(
        self, method: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> AsyncSlackResponse:
        try:
            return await method(**kwargs)
        except (TimeoutError, SlackApiError, aiohttp.ClientError, ConnectionError) as exc:
            raise translate(exc) from None

    async def _token(self, delivery: Delivery) -> str:
        try:
            return await self._tokens.bot_token(delivery.workspace_external_id)
        except NotInstalled as exc:
            raise translate(exc) from None
        except SlackClientError as exc:  # a token rotation that failed: retried later
            raise translate(exc) from None

    async def deliver(self, delivery: Delivery) -> str | None:
        token = await self._token(delivery)
        content = render.message(delivery.card)
        if delivery.action is DeliveryAction.PRIVATE:
            return await self._private(token, delivery, content)
        channel = delivery.channel_external_id
        thread_ts = None
        if delivery.action is DeliveryAction.REPLY and delivery.parent_ref:
            channel, thread_ts = split_ref(delivery.parent_ref)
        if not channel:
            raise PermanentDeliveryError("no channel to post in")
        response = await self._call(
            self._client.chat_postMessage,
            token=token,
            channel=channel,
            thread_ts=thread_ts,
            **content,
            **SEND_OPTIONS,
        )
        return f"{response['channel']}:{response['ts']}"

    async def edit(self, delivery: Delivery) -> str | None:
        if not delivery.parent_ref:
            raise PermanentDeliveryError("nothing to edit")
        token = await self._token(delivery)
        channel, ts = split_ref(delivery.parent_ref)
        await self._call(
            self._client.chat_update,
            token=token,
            channel=channel,
            ts=ts,
            link_names=False,
            **render.message(delivery.card),
        )
        return delivery.parent_ref

    async def _private(self, token: str, delivery: Delivery, content: dict[str, Any]) -> str:
        member = delivery.member_external_id
        if not member:
            raise PermanentDeliveryError("no member to reach")
        context = delivery.reply_context or {}
        channel = context.get("channel") or delivery.channel_external_id
        if channel and not str(channel).startswith("D"):
            try:
                response = await self._client.chat_postEphemeral(
                    token=token, channel=channel, user=member, link_names=False, **content
                )
                await send_files(self._client, delivery.card, member, token=token)
                return f"ephemeral:{channel}:{response.get('message_ts', '')}"
            except SlackApiError as exc:
                if _error_code(exc) not in EPHEMERAL_FALLBACK_ERRORS:
                    raise translate(exc) from None
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                raise translate(exc) from None
        opened = await self._call(self._client.conversations_open, token=token, users=member)
        direct = opened["channel"]["id"]
        response = await self._call(
            self._client.chat_postMessage, token=token, channel=direct, **content, **SEND_OPTIONS
        )
        await send_files(self._client, delivery.card, member, token=token)
        return f"{response['channel']}:{response['ts']}"
