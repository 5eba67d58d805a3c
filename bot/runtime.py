"""Server mode: one process, one event loop, the chat adapters whose settings are set.

``serve`` builds the ``BotApp``, starts each configured chat adapter (Slack, Discord), hands
their notifiers to the dispatcher, starts the scheduler and the grading worker, serves the bot's
one HTTP server (``/healthz``, ``/metrics``, and Slack's ``/slack/events`` when Slack runs) and
runs until it is stopped (SIGINT/SIGTERM), then shuts everything down in order. With no chat
adapter configured it still runs (grading, delivery, health) — the shape of a worker replica.

An adapter is a class with ``platform``, ``notifier``, ``async start(app, http)`` and
``async stop()``; it is found by name in ``ADAPTERS`` and imported only when configured, so a
terminal user never imports a chat SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app import BotApp
from bot.config import Settings
from bot.metrics import REGISTRY, LoopLagMonitor
from bot.services.delivery import Notifier, oldest_due_age, outbox_depth
from bot.storage.db import check_connection
from bot.storage.models import Platform

log = logging.getLogger(__name__)

#: Connections the kernel queues before the server accepts them. A channel answering at once
#: opens hundreds; with aiohttp's default of 128 the rest are dropped and their clients resend
#: the SYN a second later, a full second added to an acknowledgement Slack limits to three.
LISTEN_BACKLOG = 1024

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
    """A configured adapter cannot be loaded (its code or SDK is missing), or the HTTP server
    cannot listen on its port."""


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


#: An outbox message due for longer than this means delivery is stuck.
STUCK_OUTBOX_SECONDS = 600.0


class Server:
    """The running bot in server mode (kept as an object so tests can start and stop it)."""

    def __init__(self, app: BotApp, adapters: Sequence[ChatAdapter], port: int, host: str):
        self.app = app
        self.adapters = list(adapters)
        self.http = web.Application()
        self.http.router.add_get("/healthz", self._healthz)
        self.http.router.add_get("/metrics", self._metrics)
        self._port = port
        self._host = host
        self._runner: web.AppRunner | None = None
        self.lag = LoopLagMonitor()
        self.bound_port: int | None = None

    async def start(self) -> None:
        for adapter in self.adapters:
            await adapter.start(self.app, self.http)
        await self.app.start([adapter.notifier for adapter in self.adapters])
        self.lag.start()
        self._runner = web.AppRunner(self.http, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except OSError as exc:  # the port is taken, or reserved: an operator error, one line
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise AdapterUnavailable(
                f"the HTTP server cannot listen on port {self._port} "
                f"(HTTP_PORT, else SLACK_PORT): {reason}"
            ) from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("HTTP server listening on %s:%s", self._host, self.bound_port)

    async def stop(self) -> None:
        for adapter in reversed(self.adapters):
            with contextlib.suppress(Exception):
                await adapter.stop()
        await self.lag.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.app.close()

    async def health(self) -> tuple[bool, dict[str, object]]:
        """Database reachable, scheduler running, adapters connected, outbox not stuck."""
        checks: dict[str, object] = {}
        healthy = True
        try:
            async with asyncio.timeout(3):
                await check_connection(self.app.engine)
            checks["database"] = "ok"
            depth = await outbox_depth(self.app.sessions)
            waiting = await oldest_due_age(self.app.sessions, self.app.clock.now())
            stuck = waiting > STUCK_OUTBOX_SECONDS
            checks["outbox"] = {
                "depth": depth,
                "oldest_due_seconds": round(waiting, 1),
                "stuck": stuck,
            }
            healthy = healthy and not stuck
        except Exception as exc:  # the database is down: say so, in one word
            checks["database"] = f"unreachable ({type(exc).__name__})"
            healthy = False
        scheduler = self.app.scheduler
        running = scheduler is not None and scheduler.scheduler.running
        checks["scheduler"] = "running" if running else "stopped"
        if self.adapters:
            healthy = healthy and running
        adapters = {}
        for adapter in self.adapters:
            connected = getattr(adapter, "connected", None)
            state = connected() if callable(connected) else True
            adapters[adapter.platform.value] = "connected" if state else "disconnected"
            healthy = healthy and bool(state)
        checks["adapters"] = adapters
        checks["event_loop_lag_seconds"] = round(self.lag.worst, 4)
        checks["status"] = "ok" if healthy else "unhealthy"
        return healthy, checks

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, checks = await self.health()
        return web.json_response(checks, status=200 if healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        with contextlib.suppress(Exception):
            await outbox_depth(self.app.sessions)  # refresh the gauge
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve(settings: Settings, names: Sequence[str], *, host: str = "0.0.0.0") -> int:
    """Run server mode (with the named chat adapters) until SIGINT/SIGTERM."""
    adapters = [load_adapter(name, settings) for name in names]
    app = await BotApp.create(settings)
    server = Server(app, adapters, settings.effective_http_port, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        log.info(
            "server mode: %s; HTTP on port %s",
            ", ".join(names) or "no chat adapter (grading, delivery and health only)",
            server.bound_port,
        )
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.stop()
    return 0
