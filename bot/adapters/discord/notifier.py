"""The Discord ``Notifier``: the outbox dispatcher hands it cards, it sends them over REST.

- POST: a message in the channel; the reference is ``"<channel id>:<message id>"``.
- REPLY: the reveal in a thread started on the question post (a thread started from a message
  takes the message's id, so a retry after a half-done attempt finds it); where the channel
  allows no thread (or the bot may not start one, or may not post in it), a reply to the post
  instead.
- EDIT: the post replaced in place (the question becoming "closed · N answers", its button gone).
- PRIVATE: an ephemeral follow-up on the member's own interaction while its token is valid
  (15 minutes; ``reply_context`` holds it), otherwise a direct message.

Rate limits: discord.py waits out short 429s itself (and pre-empts its buckets); a 429 longer
than ``MAX_RATELIMIT_WAIT`` is surfaced and becomes ``RetryLater`` with its Retry-After, so the
outbox row waits in the database instead of holding a dispatcher slot. 5xx and connection errors
are retried with backoff; Discord refusing for good (unknown channel, missing access, a member
who does not accept DMs, a malformed body) is ``PermanentDeliveryError``. Exception messages
never carry message text; ``code`` is ``"<HTTP status>/<Discord error code>"``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import discord

from bot.adapters.discord.render import RenderedMessage, render, render_single, shorten
from bot.clock import Clock, SystemClock
from bot.services.delivery import Delivery, PermanentDeliveryError, RetryLater
from bot.services.delivery import DeliveryError as _DeliveryError
from bot.storage.models import DeliveryAction, Platform

log = logging.getLogger(__name__)

#: Longest 429 discord.py may wait out by itself (its minimum); longer ones become RetryLater.
MAX_RATELIMIT_WAIT = 30.0
#: An interaction token is valid 15 minutes; follow-ups stop a minute before.
TOKEN_SECONDS = 15 * 60
TOKEN_MARGIN_SECONDS = 60
THREAD_NAME_LIMIT = 100
#: Discord error codes meaning "no thread here": wrong channel type, missing access/permission,
#: threads disabled, thread limits.
NO_THREAD_CODES = {50001, 50013, 50024, 160002, 160005, 160006, 30033}
THREAD_EXISTS = 160004
#: The thread was started but refuses the bot's messages (Send Messages in Threads denied).
THREAD_REFUSED = {"403/50001", "403/50013"}


def _code(exc: discord.HTTPException) -> str:
    return f"{exc.status}/{exc.code}" if exc.code else str(exc.status)


def _retry_after(exc: discord.HTTPException) -> float | None:
    response = getattr(exc, "response", None)
    header = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


def _with_code(error: _DeliveryError, code: str) -> _DeliveryError:
    error.code = code  # type: ignore[attr-defined]
    return error


def translate(exc: BaseException) -> _DeliveryError | None:
    """The outbox's retry vocabulary for a discord.py or connection error (None: not ours)."""
    if isinstance(exc, discord.RateLimited):
        return _with_code(RetryLater("rate limited", retry_after=exc.retry_after), "429")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return _with_code(RetryLater("rate limited", retry_after=_retry_after(exc)), "429")
        if exc.status >= 500:
            return _with_code(RetryLater("Discord server error"), _code(exc))
        return _with_code(PermanentDeliveryError("refused by Discord"), _code(exc))
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return _with_code(RetryLater("connection to Discord failed"), type(exc).__name__)
    return None


@contextlib.contextmanager
def discord_errors() -> Iterator[None]:
    """Translate discord.py errors raised in the block (see ``translate``)."""
    try:
        yield
    except _DeliveryError:
        raise
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from None


def parse_ref(ref: str) -> tuple[int, int]:
    channel, _, message = ref.partition(":")
    return int(channel), int(message)


def token_context(
    *, application_id: int, token: str, channel_id: int | None, now: datetime
) -> dict[str, Any]:
    """What a modal submit stores in ``reply_context`` so the grade can follow up privately."""
    return {
        "channel": str(channel_id) if channel_id is not None else None,
        "application_id": str(application_id),
        "interaction_token": token,
        "token_expires_at": now.timestamp() + TOKEN_SECONDS,
    }


def thread_name(delivery: Delivery) -> str:
    card = delivery.card
    first_line = (
        (card.body or card.title).strip().splitlines()[0] if (card.body or card.title) else ""
    )
    return shorten("💡 " + first_line, THREAD_NAME_LIMIT)


class DiscordNotifier:
    """Sends outbox deliveries through discord.py's REST client."""

    platform = Platform.DISCORD

    def __init__(self, clock: Clock | None = None) -> None:
        self._client: discord.Client | None = None
        self._clock: Clock = clock or SystemClock()
        #: Sends per kind, for operators and tests ("followup", "dm", "thread", "reply"...).
        self.sent: dict[str, int] = {}

    def bind(self, client: discord.Client, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    @property
    def client(self) -> discord.Client:
        if self._client is None:
            raise RetryLater("the Discord client is not connected yet")
        return self._client

    def _count(self, kind: str) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + 1

    # --- the port ------------------------------------------------------------------------

    async def deliver(self, delivery: Delivery) -> str | None:
        if delivery.action is DeliveryAction.PRIVATE:
            return await self._private(delivery)
        if delivery.action is DeliveryAction.REPLY and delivery.parent_ref:
            return await self._reply(delivery, delivery.parent_ref)
        if delivery.channel_external_id is None:
            raise PermanentDeliveryError("no channel to post in")
        await self._grant_role(delivery)
        return await self._post(int(delivery.channel_external_id), delivery)

    async def edit(self, delivery: Delivery) -> str | None:
        assert delivery.parent_ref is not None
        channel_id, message_id = parse_ref(delivery.parent_ref)
        message = render_single(delivery.card, workspace=delivery.workspace_external_id)
        partial = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        view = message.view()  # None removes the buttons (a closed question has none)
        try:
            with discord_errors():
                await partial.edit(
                    content=message.content,
                    embeds=list(message.embeds),
                    view=view,
                    allowed_mentions=message.allowed_mentions,
                )
        finally:
            if view is not None:
                view.stop()
        self._count("edit")
        return delivery.parent_ref

    # --- channel messages ----------------------------------------------------------------

    async def _send_parts(
        self,
        channel: discord.abc.Messageable,
        messages: Sequence[RenderedMessage],
        *,
        reference: discord.MessageReference | None = None,
    ) -> discord.Message:
        """Send a card's messages in order; the first one's failure is the delivery's failure.
        A continuation that fails is logged, not retried (a retry would repeat the first)."""
        first: discord.Message | None = None
        for index, message in enumerate(messages):
            view = message.view()
            kwargs = message.send_options()
            if view is not None:
                kwargs["view"] = view
            if reference is not None and index == 0:
                kwargs["reference"] = reference
                kwargs["mention_author"] = False
            if index == 0:
                with discord_errors():
                    first = await channel.send(**kwargs)
            else:
                try:
                    with discord_errors():
                        await channel.send(**kwargs)
                except _DeliveryError as exc:
                    log.warning("continuation %s of a card not sent: %s", index, type(exc).__name__)
            if view is not None:
                view.stop()  # routed by the dynamic items; nothing kept per message
        assert first is not None
        return first

    async def _post(self, channel_id: int, delivery: Delivery) -> str:
        channel = self.client.get_partial_messageable(channel_id)
        messages = render(delivery.card, workspace=delivery.workspace_external_id)
        sent = await self._send_parts(channel, messages)
        self._count("post")
        return f"{channel_id}:{sent.id}"

    async def _reply(self, delivery: Delivery, parent_ref: str) -> str:
        channel_id, message_id = parse_ref(parent_ref)
        messages = render(delivery.card, workspace=delivery.workspace_external_id)
        thread_id = await self._thread_on(channel_id, message_id, thread_name(delivery))
        if thread_id is not None:
            thread = self.client.get_partial_messageable(thread_id)
            try:
                sent = await self._send_parts(thread, messages)
            except PermanentDeliveryError as exc:
                # started, but the bot may not post in it (Send Messages in Threads denied)
                if getattr(exc, "code", None) not in THREAD_REFUSED:
                    raise
                log.info("thread %s refused the reveal: replying instead", thread_id)
            else:
                self._count("thread")
                return f"{thread_id}:{sent.id}"
        channel = self.client.get_partial_messageable(channel_id)
        reference = discord.MessageReference(
            message_id=message_id, channel_id=channel_id, fail_if_not_exists=False
        )
        sent = await self._send_parts(channel, messages, reference=reference)
        self._count("reply")
        return f"{channel_id}:{sent.id}"

    async def _thread_on(self, channel_id: int, message_id: int, name: str) -> int | None:
        """Start (or find) the thread on a message; None where no thread can be started."""
        try:
            data = await self.client.http.start_thread_with_message(
                channel_id,
                message_id,
                name=name,
                auto_archive_duration=1440,
                rate_limit_per_user=None,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_EXISTS:
                return message_id
            if exc.status in (400, 403) and exc.code in NO_THREAD_CODES:
                log.info("no thread on %s (%s): replying instead", channel_id, _code(exc))
                return None
            if exc.status == 404:
                return None  # the post is gone: the reply's reference is dropped
            raise translate(exc) or exc from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate(exc) or exc from None
        return int(data["id"])

    async def _grant_role(self, delivery: Delivery) -> None:
        """Give a champion the channel's role before the post that announces it (an idempotent
        PUT, so a retried post grants it again harmlessly). Missing Manage Roles is logged and
        the post still goes out."""
        card = delivery.card
        if not card.grant_role_id or not card.mention_member_ids:
            return
        guild, member, role = (
            delivery.workspace_external_id,
            card.mention_member_ids[0],
            card.grant_role_id,
        )
        if not (guild.isdigit() and member.isdigit() and role.isdigit()):
            return
        try:
            with discord_errors():
                await self.client.http.add_role(
                    int(guild), int(member), int(role), reason="Monthly interview champion"
                )
            self._count("role")
        except PermanentDeliveryError as exc:
            log.warning("champion role not granted: %s", getattr(exc, "code", ""))

    # --- private -------------------------------------------------------------------------

    def _token(self, context: Mapping[str, Any] | None) -> tuple[int, str] | None:
        if not context:
            return None
        token = context.get("interaction_token")
        application = context.get("application_id")
        expires = context.get("token_expires_at")
        if not token or not application or not isinstance(expires, int | float):
            return None
        if self._clock.now().timestamp() >= expires - TOKEN_MARGIN_SECONDS:
            return None
        return int(application), str(token)

    async def _private(self, delivery: Delivery) -> str:
        messages = render(delivery.card, workspace=delivery.workspace_external_id)
        token = self._token(delivery.reply_context)
        if token is not None:
            application_id, interaction_token = token
            webhook = discord.Webhook.from_state(
                {"id": application_id, "type": 3, "token": interaction_token},
                state=self.client._connection,
            )
            try:
                sent = await self._followup(webhook, messages)
            except (discord.NotFound, discord.Forbidden):
                pass  # the token expired early or the interaction is gone: a DM instead
            except discord.HTTPException as exc:
                if exc.status != 401:
                    raise translate(exc) or exc from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise translate(exc) or exc from None
            else:
                self._count("followup")
                return f"followup:{sent.id}"
        if delivery.member_external_id is None or not delivery.member_external_id.isdigit():
            raise PermanentDeliveryError("no member to write to")
        with discord_errors():
            channel = await self.client.create_dm(
                discord.Object(id=int(delivery.member_external_id))
            )
        sent = await self._send_parts(channel, messages)
        self._count("dm")
        return f"{channel.id}:{sent.id}"

    async def _followup(
        self, webhook: discord.Webhook, messages: Sequence[RenderedMessage]
    ) -> discord.Message:
        """Ephemeral follow-ups; the first one's failure is the caller's to handle."""
        first: discord.Message | None = None
        for index, message in enumerate(messages):
            view = message.view()
            kwargs = {**message.send_options(), "ephemeral": True, "wait": True}
            if view is not None:
                kwargs["view"] = view
            try:
                if index == 0:
                    first = await webhook.send(**kwargs)
                else:
                    with discord_errors():
                        await webhook.send(**kwargs)
            except _DeliveryError as exc:
                log.warning("continuation %s of a card not sent: %s", index, type(exc).__name__)
            finally:
                if view is not None:
                    view.stop()
        assert first is not None
        return first
