"""The Discord adapter, wiring only: builds the discord.py client (sharded when
``DISCORD_SHARDS`` is set), its command tree and dynamic items, connects the inbound events to
the handlers, and hands the notifier to the outbox.

Intents are minimal: only GUILDS (not privileged), for joining and leaving servers (and, at
READY, the servers that removed the bot while it was offline) and for deleted channels, whose
schedule stops. Answers arrive through modals, so the bot never reads message content and needs
no privileged intent. Every message allows no mention by default (``AllowedMentions.none()``).
Member and guild chunking are off: interactions carry the member and their permissions.

``DISCORD_API_URL`` / ``DISCORD_GATEWAY_URL`` point discord.py at REST and gateway proxies (or
the tests' loopback fake); ``DISCORD_DEV_GUILD_ID`` syncs a copy of the commands to one guild at
start (instant); ``python -m bot discord sync`` syncs the global commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
import yarl
from aiohttp import web
from discord import app_commands

from bot.adapters.discord.commands import Catalogue, build_group
from bot.adapters.discord.ids import DM_WORKSPACE_PREFIX
from bot.adapters.discord.interactions import (
    guarded,
    log_failure,
    safe_error_reply,
    workspace_of,
)
from bot.adapters.discord.notifier import MAX_RATELIMIT_WAIT, DiscordNotifier
from bot.adapters.discord.views import (
    CardButtonItem,
    ConfigButtonItem,
    Drafts,
    handle_modal_submit,
)
from bot.app import BotApp
from bot.config import Settings
from bot.services.cards import error_card
from bot.storage.models import Platform

log = logging.getLogger(__name__)

#: discord.py's own spacing between shards' IDENTIFY (Discord's max_concurrency of 1).
IDENTIFY_SPACING_SECONDS = 5.0
#: Wait before the gateway reconnects after an event discord.py could not read.
RECONNECT_SECONDS = 5.0


class DiscordStartError(Exception):
    """Discord refused the token or could not be reached; the message is one line."""


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py's REST client and gateway at the configured URLs (proxies, fakes)."""
    if settings.discord_api_url:
        discord.http.Route.BASE = settings.discord_api_url
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = True
    return chosen


#: What Discord sent does not fit this bot's ``/interview``: a member's client still shows the
#: command as it was before an upgrade (a subcommand since removed, an option since made
#: required), or ``discord sync`` has not run since.
STALE_COMMAND = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)
STALE_COMMAND_MESSAGE = (
    "Discord still shows an older form of this command. Reload Discord (Ctrl+R, or reopen the "
    "app) and run it again; it can take a few minutes after the bot is updated."
)


class InterviewTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            card = error_card(str(error))
        elif isinstance(error, STALE_COMMAND):
            log.warning(
                "/interview as Discord sent it does not fit this bot's (%s): "
                "run `python -m bot discord sync` after an upgrade",
                type(error).__name__,
            )
            card = error_card(STALE_COMMAND_MESSAGE)
        else:
            log_failure("/interview", getattr(error, "original", error))
            card = error_card("Something went wrong; nothing was changed. Try again in a moment.")
        await safe_error_reply(interaction, card, workspace_of(interaction))


class _InterviewClientMixin:
    """What both client classes share: the tree, the dynamic items, the events."""

    adapter: DiscordAdapter | None
    tree: InterviewTree
    identify_spacing: float

    def _setup_interview(self, identify_spacing: float) -> None:
        self.adapter = None
        self.identify_spacing = identify_spacing
        self.tree = InterviewTree(self)  # type: ignore[arg-type]
        self.tree.add_command(build_group())

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButtonItem, ConfigButtonItem)  # type: ignore[attr-defined]

    async def on_ready(self) -> None:
        if self.adapter is not None:
            try:
                await self.adapter.disable_left_guilds(self.guilds)  # type: ignore[attr-defined]
            finally:
                self.adapter.ready.set()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if self.adapter is None or interaction.type is not discord.InteractionType.modal_submit:
            return
        await guarded(interaction, handle_modal_submit(interaction))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        if self.adapter is not None:
            await self.adapter.app.directory.workspace(Platform.DISCORD, str(guild.id), guild.name)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # joined while the bot was offline, or back after a leave: the row exists and is on
        await self.on_guild_join(guild)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        if self.adapter is not None:
            await self.adapter.app.directory.set_workspace_enabled(
                Platform.DISCORD, str(guild.id), False
            )

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self._channel_deleted(channel.guild.id, channel.id)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        await self._channel_deleted(payload.guild_id, payload.thread_id)  # a forum post

    async def _channel_deleted(self, guild_id: int, channel_id: int) -> None:
        if self.adapter is not None:
            await self.adapter.app.channels.channel_deleted(
                Platform.DISCORD, str(guild_id), str(channel_id)
            )

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial and self.identify_spacing:
            await asyncio.sleep(self.identify_spacing)


class InterviewClient(_InterviewClientMixin, discord.Client):
    def __init__(self, *, identify_spacing: float = IDENTIFY_SPACING_SECONDS, **options: Any):
        super().__init__(**options)
        self._setup_interview(identify_spacing)


class InterviewShardedClient(_InterviewClientMixin, discord.AutoShardedClient):
    def __init__(self, *, identify_spacing: float = IDENTIFY_SPACING_SECONDS, **options: Any):
        super().__init__(**options)
        self._setup_interview(identify_spacing)


def build_client(
    settings: Settings,
    *,
    sharded: bool | None = None,
    identify_spacing: float = IDENTIFY_SPACING_SECONDS,
    guild_ready_timeout: float = 2.0,
) -> InterviewClient | InterviewShardedClient:
    """A client with the ``/interview`` tree; sharded when ``DISCORD_SHARDS`` is set."""
    # the bot never joins voice: no warning about voice libraries it does not need
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    options: dict[str, Any] = {
        "intents": intents(),
        "allowed_mentions": discord.AllowedMentions.none(),
        "max_ratelimit_timeout": MAX_RATELIMIT_WAIT,
        "member_cache_flags": discord.MemberCacheFlags.none(),
        "chunk_guilds_at_startup": False,
        "guild_ready_timeout": guild_ready_timeout,
        "identify_spacing": identify_spacing,
    }
    shards = settings.discord_shards
    if sharded is False or (sharded is None and shards is None):
        return InterviewClient(**options)
    return InterviewShardedClient(
        shard_count=None if shards in (None, "auto") else shards, **options
    )


async def login(client: discord.Client, settings: Settings) -> None:
    if settings.discord_token is None:
        raise DiscordStartError("DISCORD_TOKEN is not set")
    try:
        await client.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        raise DiscordStartError("Discord refused DISCORD_TOKEN (check the bot token)") from None
    except discord.HTTPException as exc:
        raise DiscordStartError(f"Discord answered {exc.status} to the login") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise DiscordStartError(f"cannot reach Discord ({type(exc).__name__})") from None


async def sync_commands(settings: Settings, guild_id: int | None = None) -> list[str]:
    """Sync the ``/interview`` tree (globally, or to one guild: instant) and return the names
    Discord now has. Needs no database and no gateway connection."""
    configure_endpoints(settings)
    client = build_client(settings, sharded=False)
    try:
        await login(client, settings)
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            client.tree.copy_global_to(guild=guild)
            synced = await client.tree.sync(guild=guild)
        else:
            synced = await client.tree.sync()
    except discord.HTTPException as exc:
        raise DiscordStartError(f"Discord refused the sync ({exc.status}/{exc.code})") from None
    finally:
        await client.close()
    return [command.name for command in synced]


class DiscordAdapter:
    """The Discord side of server mode (see ``bot.runtime``)."""

    platform = Platform.DISCORD

    def __init__(
        self,
        settings: Settings,
        *,
        identify_spacing: float = IDENTIFY_SPACING_SECONDS,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self.settings = settings
        self.notifier = DiscordNotifier()
        self.catalogue = Catalogue()
        self.drafts = Drafts()
        self.ready = asyncio.Event()
        self._identify_spacing = identify_spacing
        self._guild_ready_timeout = guild_ready_timeout
        self._app: BotApp | None = None
        self._client: InterviewClient | InterviewShardedClient | None = None
        self._task: asyncio.Task[None] | None = None
        #: Wait before reconnecting after an event the gateway parsers could not read.
        self.reconnect_seconds = RECONNECT_SECONDS

    @property
    def app(self) -> BotApp:
        if self._app is None:
            raise RuntimeError("the Discord adapter has not started")
        return self._app

    @property
    def client(self) -> InterviewClient | InterviewShardedClient:
        if self._client is None:
            raise RuntimeError("the Discord adapter has not started")
        return self._client

    async def start(self, app: BotApp, http: web.Application) -> None:
        """Log in over REST (a bad token fails here, in one line), sync the dev guild's
        commands, then connect to the gateway in the background."""
        from bot.runtime import AdapterUnavailable

        self._app = app
        configure_endpoints(self.settings)
        client = build_client(
            self.settings,
            identify_spacing=self._identify_spacing,
            guild_ready_timeout=self._guild_ready_timeout,
        )
        client.adapter = self
        self._client = client
        self.notifier.bind(client, app.clock)
        try:
            await login(client, self.settings)
            if self.settings.discord_dev_guild_id is not None:
                guild = discord.Object(id=self.settings.discord_dev_guild_id)
                client.tree.copy_global_to(guild=guild)
                await client.tree.sync(guild=guild)
        except DiscordStartError as exc:
            await client.close()
            raise AdapterUnavailable(f"discord: {exc}") from None
        except discord.HTTPException as exc:
            await client.close()
            raise AdapterUnavailable(
                f"discord: the dev guild sync was refused ({exc.status}/{exc.code})"
            ) from None
        self._task = asyncio.create_task(self._connect(client), name="discord-gateway")

    async def disable_left_guilds(self, guilds: Sequence[discord.Guild]) -> None:
        """READY lists every server the bot is in (those not loaded yet as unavailable): one
        that removed the bot while it was offline sent no GUILD_DELETE, so its workspace is
        disabled here and nothing is posted there any more. Direct-message workspaces stay."""
        present = {str(guild.id) for guild in guilds}
        for external_id in await self.app.directory.enabled_workspaces(Platform.DISCORD):
            if external_id not in present and not external_id.startswith(DM_WORKSPACE_PREFIX):
                log.info("the bot is no longer in server %s: disabling it", external_id)
                await self.app.directory.set_workspace_enabled(Platform.DISCORD, external_id, False)

    def connected(self) -> bool:
        """For ``/healthz``: logged in, READY received, the gateway loop still running (it ends
        for good on an error it cannot recover from) and no gateway socket closed."""
        client = self._client
        if client is None or client.is_closed() or not client.is_ready():
            return False
        if self._task is None or self._task.done():
            return False
        if isinstance(client, discord.AutoShardedClient):
            return all(not shard.is_closed() for shard in client.shards.values())
        return True

    async def _connect(self, client: discord.Client) -> None:
        while True:
            try:
                await client.connect(reconnect=True)
                return
            except asyncio.CancelledError:
                raise
            except (KeyError, AttributeError, TypeError, ValueError) as exc:
                # discord.py's gateway parsers run in the socket's reading loop: one event
                # they cannot read (an interaction without a field they index) ended the
                # connection for good while /healthz still said connected
                if client.is_closed():
                    return
                log.error(
                    "the Discord gateway could not read an event (%s); reconnecting in %.0f s",
                    type(exc).__name__,
                    self.reconnect_seconds,
                )
                # the abandoned socket's heartbeat thread would go on beating (and outlive the
                # loop); closing the socket stops it
                socket = getattr(client, "ws", None)
                if socket is not None:
                    with contextlib.suppress(Exception):
                        await socket.close(4000)
                await asyncio.sleep(self.reconnect_seconds)
            except Exception as exc:
                log.error("the Discord gateway connection ended: %s", type(exc).__name__)
                return

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 10)
            self._task = None
