"""What every Discord handler shares: who is acting (the ``Actor`` behind an interaction), how
to answer an interaction with cards within Discord's 3-second window, and how to read a modal's
submitted values.

Who: in a server, the workspace is the guild and ``is_admin`` is the member's Manage Server (or
Administrator) permission, as Discord computed it for this channel; a thread of a channel acts
for that channel (``channel_of``). In a direct message with the bot, the workspace is the
member's own ("dm-<user id>": practice, stats, no channel schedule), unless the button clicked
says otherwise: a card the bot sent by DM on behalf of a server (a nudge, a grade after the
interaction token expired) carries that server's id in its custom id, so its Answer button
answers the server's question.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from bot.adapters.discord.ids import dm_workspace
from bot.adapters.discord.render import RenderedMessage, render
from bot.services.cards import Card, error_card
from bot.services.directory import Actor
from bot.storage.models import Platform

if TYPE_CHECKING:
    from bot.adapters.discord.app import DiscordAdapter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A command that has not finished after this many seconds is deferred (Discord allows 3).
RESPONSE_BUDGET_SECONDS = 2.0
DM_WORKSPACE_NAME = "Direct messages"
DEFERRED = discord.InteractionResponseType.deferred_channel_message


def adapter_of(interaction: discord.Interaction) -> DiscordAdapter:
    adapter: DiscordAdapter | None = getattr(interaction.client, "adapter", None)
    if adapter is None:
        raise RuntimeError("the Discord client has no adapter attached")
    return adapter


def is_manager(interaction: discord.Interaction) -> bool:
    """Manage Server (or Administrator) in this guild; never in a direct message."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def channel_of(interaction: discord.Interaction) -> tuple[int | None, str]:
    """The channel an interaction acts for, and its name: its own, except in a thread of a
    text or announcement channel (the reveal's thread on the question, a discussion), which
    acts for that channel as a Slack thread does. A forum post (a thread of a forum, which
    takes no message of its own) is a place of its own."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and not isinstance(channel.parent, discord.ForumChannel):
        return channel.parent_id, getattr(channel.parent, "name", None) or ""
    return interaction.channel_id, getattr(channel, "name", None) or ""


def workspace_of(interaction: discord.Interaction, carried: str | None = None) -> str:
    """The workspace external id: the guild, else the one a button carried, else the member's
    own direct-message workspace."""
    if interaction.guild_id is not None:
        return str(interaction.guild_id)
    return carried or dm_workspace(interaction.user.id)


async def actor_for(
    interaction: discord.Interaction,
    *,
    workspace: str | None = None,
    channel_id: int | None = None,
    channel_name: str | None = None,
) -> Actor:
    """Resolve the member behind an interaction (cached after the first time).

    ``channel_id`` overrides the interaction's channel (``config channel:#other``);
    ``workspace`` is what a button in a direct message carried."""
    app = adapter_of(interaction).app
    user = interaction.user
    external = workspace_of(interaction, workspace)
    if interaction.guild_id is not None:
        if channel_id is None:
            channel, channel_name = channel_of(interaction)
        else:
            channel = channel_id
        guild = interaction.guild
        return await app.directory.resolve(
            Platform.DISCORD,
            external,
            str(user.id),
            channel_external_id=str(channel) if channel is not None else None,
            workspace_name=guild.name if guild is not None else "",
            channel_name=channel_name or "",
            member_name=user.display_name,
            is_admin=is_manager(interaction),
        )
    return await app.directory.resolve(
        Platform.DISCORD,
        external,
        str(user.id),
        workspace_name=DM_WORKSPACE_NAME if external == dm_workspace(user.id) else "",
        member_name=user.display_name,
        is_admin=False,
    )


def reply_context_of(interaction: discord.Interaction) -> dict[str, Any]:
    """What the notifier needs to answer this member privately later: this interaction's
    token while it is valid (an ephemeral follow-up), else a direct message."""
    from bot.adapters.discord.notifier import token_context

    return token_context(
        application_id=interaction.application_id,
        token=interaction.token,
        channel_id=interaction.channel_id,
        now=adapter_of(interaction).app.clock.now(),
    )


def modal_values(data: Mapping[str, Any] | None) -> dict[str, str | list[str]]:
    """The submitted values of a modal by input custom id: a text input's text, or a select's
    chosen values (Discord nests them in labels, or in action rows for older clients)."""
    values: dict[str, str | list[str]] = {}

    def walk(component: Mapping[str, Any]) -> None:
        kind = component.get("type")
        if kind == 18 and isinstance(component.get("component"), Mapping):
            walk(component["component"])
        elif kind == 1:
            for child in component.get("components") or []:
                walk(child)
        elif "custom_id" in component:
            if "values" in component:
                values[component["custom_id"]] = [str(item) for item in component["values"]]
            elif "value" in component:
                values[component["custom_id"]] = str(component.get("value") or "")

    for component in (data or {}).get("components") or []:
        if isinstance(component, Mapping):
            walk(component)
    return values


def text_value(values: Mapping[str, str | list[str]], key: str) -> str:
    value = values.get(key, "")
    return value if isinstance(value, str) else (value[0] if value else "")


class Responder:
    """Answers one interaction with cards.

    The first message is the interaction's response (or the edit of its deferred response);
    the rest are follow-ups. A card's ``private`` makes its messages ephemeral. ``within_budget``
    runs slow work and defers (ephemeral, "thinking") if it has not finished in time, so the
    3-second window is never missed."""

    def __init__(self, interaction: discord.Interaction, workspace: str):
        self.interaction = interaction
        self.workspace = workspace
        #: Deferred already (a modal submit acknowledged first): the first card fills it.
        self.deferred = interaction.response.type is DEFERRED
        self._original_filled = False

    async def defer(self) -> None:
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(ephemeral=True, thinking=True)
            self.deferred = True

    async def within_budget(self, work: Awaitable[T], budget: float | None = None) -> T:
        budget = RESPONSE_BUDGET_SECONDS if budget is None else budget
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=budget)
        if not done:
            await self.defer()
        return await task

    async def send_cards(
        self, cards: Sequence[Card], *, extra: discord.ui.Item[Any] | None = None
    ) -> None:
        """Send the cards; ``extra`` (a button no card can express) joins the first message."""
        for card in cards:
            for message in render(card, workspace=self.workspace):
                await self.send(message, private=card.private, extra=extra)
                extra = None

    async def send(
        self,
        message: RenderedMessage,
        *,
        private: bool = True,
        extra: discord.ui.Item[Any] | None = None,
    ) -> None:
        view = message.view()
        if extra is not None:
            view = view or discord.ui.View(timeout=None)
            view.add_item(extra)
        kwargs = message.send_options()
        if view is not None:
            kwargs["view"] = view
        response = self.interaction.response
        try:
            if not response.is_done():
                await response.send_message(ephemeral=private, **kwargs)
            elif self.deferred and not self._original_filled:
                # a deferred response keeps the privacy it was deferred with (ephemeral)
                if "files" in kwargs:
                    kwargs["attachments"] = kwargs.pop("files")
                await self.interaction.edit_original_response(**kwargs)
            else:
                await self.interaction.followup.send(ephemeral=private, **kwargs)
        finally:
            self._original_filled = self._original_filled or self.deferred
            if view is not None:
                view.stop()  # routed by the dynamic items; nothing kept per message

    async def send_modal(self, modal: discord.ui.Modal) -> None:
        """Open a modal; its submit is routed by its custom id, so the modal object is not
        kept (a submit after a restart works the same)."""
        await self.interaction.response.send_modal(modal)
        modal.stop()


def log_failure(what: str, exc: BaseException) -> None:
    """Log where an unexpected error happened: its type and stack, never its message (which can
    quote what a member typed)."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s failed: %s\n%s", what, type(exc).__name__, stack)


async def guarded(
    interaction: discord.Interaction, work: Awaitable[object], carried: str | None = None
) -> None:
    """Run a click or submit handler; on an unexpected error, log its type and tell the member
    (instead of Discord's bare "This interaction failed")."""
    try:
        await work
    except Exception as exc:
        log_failure("Discord interaction", exc)
        await safe_error_reply(
            interaction,
            error_card("Something went wrong; nothing was lost. Try again in a moment."),
            workspace_of(interaction, carried),
        )


async def safe_error_reply(interaction: discord.Interaction, card: Card, workspace: str) -> None:
    """Tell the member something went wrong, whatever state the interaction is in."""
    responder = Responder(interaction, workspace)
    with contextlib.suppress(discord.HTTPException):
        await responder.send_cards([card])
