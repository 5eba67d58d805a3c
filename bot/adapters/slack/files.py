"""Files that come with a card (the progress chart of ``stats``, a mock interview's transcript).

Slack has no ephemeral files, so they go to the member's direct message with the bot
(``conversations.open`` + ``files_upload_v2``: ``files.getUploadURLExternal``, the upload, then
``files.completeUploadExternal``); the card itself says where they went. A file is a bonus to a
card that already carries its content: when Slack refuses it (an install from before the app
asked for ``files:write``, a member who cannot receive direct messages) or is unreachable, the
failure is logged with Slack's error code and the card stands -- retrying the card for its file
would post the card twice.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.cards import Card

log = logging.getLogger(__name__)


def where_files_go(card: Card) -> str:
    """The line a card with files shows: which files, and where they are."""
    names = ", ".join(attachment.filename for attachment in card.attachments)
    return f"📎 Sent to your direct messages with the bot: {names}"


async def send_files(
    client: AsyncWebClient, card: Card, member: str, *, token: str | None = None
) -> int:
    """Upload the card's files to the member's direct message; the number sent (0 on failure)."""
    if not card.attachments or not member:
        return 0
    # a token only when one is given; otherwise the client's own
    auth: dict[str, Any] = {"token": token} if token else {}
    try:
        opened = await client.conversations_open(users=member, **auth)
        channel = opened["channel"]["id"]
        await client.files_upload_v2(
            channel=channel,
            file_uploads=[
                {
                    "content": attachment.data,
                    "filename": attachment.filename,
                    "title": attachment.description or attachment.filename,
                }
                for attachment in card.attachments
            ],
            **auth,
        )
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        log.warning("slack: files not sent (%s)", code or "error")
        return 0
    except (TimeoutError, SlackClientError, aiohttp.ClientError, ConnectionError) as exc:
        log.warning("slack: files not sent (%s)", type(exc).__name__)
        return 0
    return len(card.attachments)
