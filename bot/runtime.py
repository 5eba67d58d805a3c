"""Server mode: one process, one event loop, the chat adapters whose settings are set.

``serve`` builds the ``BotApp``, starts each configured chat adapter (Slack, Discord), hands
their notifiers to the dispatcher, starts the scheduler and the grading worker, serves the bot's
HTTP server (Slack's events endpoint lives there) and runs until it is stopped (SIGINT/SIGTERM),
then shuts everything down in order.

An adapter is a class with ``platform``, ``notifier``, ``async start(app, http)`` and
``async stop()``; it is found by name in ``ADAPTERS`` and imported only when configured, so a
terminal user never imports a chat SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web

from bot.app import BotApp
from bot.config import Settings
from bot.services.delivery import Notifier
from bot.storage.models import Platform

log = logging.getLogger(__name__)

#: platform -> "module:class" of its adapter.
ADAPTERS: dict[str, str] = {
    "slack": "bot.adapters.slack.app:SlackAdapter",
    "discord": "bot.adapters.discord.app:DiscordAdapter",
}


class ChatAdapter(Protocol):
    platform: Platform
    notifier: Notifier

    async def start(self, app: BotApp, http: web.Application) -> None:
        """Connect to the platform; add any HTTP routes to ``http`` (before it starts)."""
        ...

    async def stop(self) -> None: ...


class AdapterUnavailable(Exception):
    """A configured adapter cannot be loaded (its code or SDK is missing)."""


def load_adapter(name: str, settings: Settings) -> ChatAdapter:
    target = ADAPTERS.get(name)
    if target is None:
        raise AdapterUnavailable(f"no adapter named {name}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise AdapterUnavailable(f"the {name} adapter cannot be loaded: {exc}") from None
    adapter: ChatAdapter = getattr(module, class_name)(settings)
    return adapter


class Server:
    """The running bot in server mode (kept as an object so tests can start and stop it)."""

    def __init__(self, app: BotApp, adapters: Sequence[ChatAdapter], port: int, host: str):
        self.app = app
        self.adapters = list(adapters)
        self.http = web.Application()
        self._port = port
        self._host = host
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    async def start(self) -> None:
        for adapter in self.adapters:
            await adapter.start(self.app, self.http)
        await self.app.start([adapter.notifier for adapter in self.adapters])
        if self.http.router.routes():
            self._runner = web.AppRunner(self.http, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self._host, self._port)
            await site.start()
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
            log.info("HTTP server listening on %s:%s", self._host, self.bound_port)

    async def stop(self) -> None:
        for adapter in reversed(self.adapters):
            with contextlib.suppress(Exception):
                await adapter.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.app.close()


async def serve(settings: Settings, names: Sequence[str], *, host: str = "0.0.0.0") -> int:
    """Run the configured chat adapters until SIGINT/SIGTERM."""
    adapters = [load_adapter(name, settings) for name in names]
    app = await BotApp.create(settings)
    server = Server(app, adapters, settings.slack_port, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        log.info("serving %s", ", ".join(names))
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.stop()
    return 0
