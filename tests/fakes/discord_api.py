"""A loopback fake of Discord (REST API and gateway) for testing the real discord.py client.

discord.py talks to ``discord.http.Route.BASE`` for REST (interaction callbacks and follow-up
webhooks included) and to ``DiscordWebSocket.DEFAULT_GATEWAY`` (or the ``url`` of
``GET gateway/bot`` for an auto-sharded client) for the gateway. :class:`FakeDiscord` serves both
on 127.0.0.1 (port 0); point the bot at it with ``DISCORD_API_URL=fake.api_url`` and
``DISCORD_GATEWAY_URL=fake.gateway_url``.

REST: every request is recorded in :attr:`FakeDiscord.calls` (method, path after ``/api/v10/``,
query, parsed JSON body) and answered like Discord would for what the bot uses: login
(``users/@me``, ``oauth2/applications/@me``), ``gateway/bot``, command sync, interaction
callbacks, the interaction webhook (original response and follow-ups), channel messages (send,
edit), threads started from a message, DM channels and role grants. JSON answers carry the
``Content-Type`` exactly ``application/json`` (discord.py compares it with ``==``).
:meth:`FakeDiscord.fail` queues an error answer (a 429 with ``retry_after`` and the ``Via``
header Discord's edge adds, a 403, a 404...) for the next matching requests.

Gateway: each socket gets HELLO, answers heartbeats, and on IDENTIFY sends READY with the
application id and the shard (on RESUME, RESUMED); :meth:`FakeDiscord.dispatch` sends any event
on a shard's socket and :meth:`FakeDiscord.reconnect` asks a shard to reconnect.
The interaction builders (:meth:`slash`, :meth:`autocomplete`, :meth:`click`,
:meth:`submit_modal`) send INTERACTION_CREATE payloads shaped like Discord's (guild or DM
context, member permissions, ``attachment_size_limit``) and return an :class:`InteractionRef`
whose token finds the bot's answers among the recorded calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "1100000000000000001"
BOT_USER: dict[str, Any] = {
    "id": APP_ID,
    "username": "interview-bot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
}


def user(user_id: str, name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name.lower(),
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
    }


ALICE = user("2100000000000000001", "Alice")
BOB = user("2100000000000000002", "Bob")
ADMIN = user("2100000000000000003", "Admin")
CAROL = user("2100000000000000004", "Carol")

GUILD_A = "3100000000000000001"
GUILD_B = "3100000000000000002"
CHANNEL_A = "4100000000000000001"
CHANNEL_B = "4100000000000000002"
CHANNEL_A2 = "4100000000000000003"

#: Manage Server, as Discord sends it in a member's permissions string.
MANAGE_GUILD = str(1 << 5)
#: What a plain member may do in a channel (view, send, read history).
MEMBER_PERMISSIONS = str((1 << 10) | (1 << 11) | (1 << 16))
#: The bot's own permissions in the channel (``app_permissions``).
BOT_PERMISSIONS = str((1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 35) | (1 << 38))

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass(frozen=True)
class RestCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    #: Files sent with the request: (file name, content type, size in bytes).
    files: tuple[tuple[str, str, int], ...] = ()
    #: ``time.perf_counter()`` when the request arrived (system-wide monotonic on Linux).
    at: float = field(default_factory=time.perf_counter, compare=False)

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method and re.fullmatch(pattern, self.path) is not None


@dataclass
class Failure:
    method: str
    pattern: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int


@dataclass(frozen=True)
class InteractionRef:
    id: str
    token: str

    @property
    def callback_path(self) -> str:
        return f"interactions/{self.id}/{self.token}/callback"

    @property
    def original_path(self) -> str:
        return f"webhooks/{APP_ID}/{self.token}/messages/@original"

    @property
    def followup_path(self) -> str:
        return f"webhooks/{APP_ID}/{self.token}"


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    shard: tuple[int, int] = (0, 1)
    sequence: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)


class FakeDiscord:
    """Discord's REST API and gateway on 127.0.0.1, recording what the bot sends."""

    def __init__(self, *, recommended_shards: int = 1) -> None:
        self.calls: list[RestCall] = []
        self.messages: dict[str, dict[str, Any]] = {}
        #: Every message the bot created, with the call that created it.
        self.created: list[tuple[RestCall, dict[str, Any]]] = []
        self.synced: dict[str, list[dict[str, Any]]] = {}
        self.identifies: list[dict[str, Any]] = []
        #: The servers the bot is in: READY lists them (as Discord does, unavailable until their
        #: GUILD_CREATE); ``join_guild`` and ``leave_guild`` change it.
        self.guilds: set[str] = {GUILD_A, GUILD_B}
        #: RESUME payloads received (a reconnect that keeps the session).
        self.resumes: list[dict[str, Any]] = []
        self._sessions: dict[str, tuple[int, int]] = {}
        self.recommended_shards = recommended_shards
        #: Channels where starting a thread is refused (a DM, a thread, a voice channel).
        self.no_threads: set[str] = set()
        #: Interaction tokens Discord no longer accepts (expired after 15 minutes).
        self.expired_tokens: set[str] = set()
        self.users: dict[str, dict[str, Any]] = {
            item["id"]: item for item in (ALICE, BOB, ADMIN, CAROL)
        }
        self._sockets: dict[int, _Socket] = {}
        self._failures: list[Failure] = []
        self._interactions: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._socket_ready = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/gw/", self._gateway)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for socket in list(self._sockets.values()):
            with contextlib.suppress(Exception):
                await socket.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw/"

    def snowflake(self) -> str:
        return str(5_000_000_000_000_000_000 + next(self._ids))

    # --- failures and waiting ------------------------------------------------------------

    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the path regex with an
        error (the request is still recorded)."""
        self._failures.append(
            Failure(method, pattern, status, body or {}, dict(headers or {}), times)
        )

    def rate_limit(self, method: str, pattern: str, retry_after: float) -> None:
        """A 429 like Discord's edge sends it (the ``Via`` header tells discord.py it is not a
        Cloudflare ban)."""
        self.fail(
            method,
            pattern,
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            headers={"Retry-After": str(int(retry_after)), "Via": "1.1 google"},
        )

    def calls_to(self, method: str, pattern: str) -> list[RestCall]:
        return [call for call in self.calls if call.matches(method, pattern)]

    async def wait_for(
        self, predicate: Callable[[RestCall], bool], *, within: float = 10.0, count: int = 1
    ) -> list[RestCall]:
        """Wait until ``count`` recorded calls satisfy ``predicate``; return them."""

        def found() -> list[RestCall]:
            return [call for call in self.calls if predicate(call)]

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(found()) >= count), timeout=within
            )
        return found()

    async def wait_call(
        self, method: str, pattern: str, *, within: float = 10.0, count: int = 1
    ) -> RestCall:
        calls = await self.wait_for(
            lambda call: call.matches(method, pattern), within=within, count=count
        )
        return calls[count - 1]

    # --- REST ----------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RestCall:
        body: Any = None
        files: list[tuple[str, str, int]] = []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(str(value))
                elif isinstance(value, web.FileField):
                    files.append((value.filename, value.content_type, len(value.file.read())))
        else:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        call = RestCall(
            request.method, request.match_info["path"], dict(request.query), body, tuple(files)
        )
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return call

    def _failure_for(self, call: RestCall) -> web.Response | None:
        for failure in self._failures:
            if failure.remaining > 0 and call.matches(failure.method, failure.pattern):
                failure.remaining -= 1
                return json_response(failure.body, failure.status, failure.headers)
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        call = await self._record(request)
        failure = self._failure_for(call)
        if failure is not None:
            return failure
        for method, pattern, handler in self._routes():
            if call.method == method:
                match = re.fullmatch(pattern, call.path)
                if match:
                    return handler(call, *match.groups())
        return json_response({"message": "not faked", "code": 0}, 404)

    def _routes(self) -> list[tuple[str, str, Callable[..., web.StreamResponse]]]:
        app = APP_ID
        return [
            ("GET", r"users/@me", lambda call: json_response(BOT_USER)),
            ("GET", r"oauth2/applications/@me", self._application),
            ("GET", r"gateway", lambda call: json_response({"url": self.gateway_url})),
            ("GET", r"gateway/bot", self._gateway_bot),
            ("PUT", rf"applications/{app}/commands", self._sync),
            ("PUT", rf"applications/{app}/guilds/(\d+)/commands", self._sync),
            ("POST", r"interactions/(\d+)/([^/]+)/callback", self._callback),
            ("PATCH", rf"webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._edit_webhook),
            ("GET", rf"webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._get_webhook),
            ("DELETE", rf"webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._no_content),
            ("POST", rf"webhooks/{app}/([^/]+)", self._followup),
            ("POST", r"channels/(\d+)/messages", self._send),
            ("PATCH", r"channels/(\d+)/messages/(\d+)", self._edit),
            ("POST", r"channels/(\d+)/messages/(\d+)/threads", self._thread),
            ("POST", r"users/@me/channels", self._dm),
            ("PUT", r"guilds/(\d+)/members/(\d+)/roles/(\d+)", self._no_content),
        ]

    def _application(self, call: RestCall) -> web.Response:
        return json_response(
            {
                "id": APP_ID,
                "name": "interview-bot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": ADMIN,
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    def _gateway_bot(self, call: RestCall) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    def _sync(self, call: RestCall, guild_id: str | None = None) -> web.Response:
        commands = [
            {**command, "id": self.snowflake(), "application_id": APP_ID, "version": "1"}
            for command in call.body or []
        ]
        self.synced[guild_id or "global"] = commands
        return json_response(commands)

    def _message(
        self, channel_id: str, body: Mapping[str, Any] | None, call: RestCall | None = None
    ) -> dict[str, Any]:
        body = body or {}
        message_id = self.snowflake()
        message = {
            "id": message_id,
            "channel_id": channel_id,
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": "2026-03-02T08:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": body.get("flags") or 0,
        }
        self.messages[message_id] = message
        if call is not None:
            self.created.append((call, message))
        return message

    def _update_message(self, message_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        message = self.messages[message_id]
        for key in ("content", "embeds", "components", "flags"):
            if body and key in body:
                message[key] = body[key] if body[key] is not None else message[key]
        message["edited_timestamp"] = "2026-03-02T08:00:01+00:00"
        return message

    def _callback(self, call: RestCall, interaction_id: str, token: str) -> web.Response:
        if token in self.expired_tokens:
            return json_response({"message": "Unknown interaction", "code": 10062}, 404)
        interaction = self._interactions.get(token, {})
        body = call.body or {}
        response_type = body.get("type")
        data = body.get("data") or {}
        flags = data.get("flags") or 0
        resource: dict[str, Any] = {"type": response_type}
        if response_type in (4, 7):
            message = self._message(interaction.get("channel_id", "0"), data, call)
            self.messages["@original:" + token] = message
            resource["message"] = message
        return json_response(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": interaction.get("type", 2),
                    "response_message_loading": response_type == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": resource,
            }
        )

    def _edit_webhook(self, call: RestCall, token: str, message_id: str) -> web.Response:
        if token in self.expired_tokens:
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        key = "@original:" + token if message_id == "@original" else message_id
        existing = self.messages.get(key)
        if existing is None:
            channel = self._interactions.get(token, {}).get("channel_id", "0")
            existing = self._message(channel, call.body, call)
            self.messages[key] = existing
            return json_response(existing)
        return json_response(self._update_message(existing["id"], call.body))

    def _get_webhook(self, call: RestCall, token: str, message_id: str) -> web.Response:
        key = "@original:" + token if message_id == "@original" else message_id
        message = self.messages.get(key)
        if message is None:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        return json_response(message)

    def _followup(self, call: RestCall, token: str) -> web.Response:
        if token in self.expired_tokens:
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        channel = self._interactions.get(token, {}).get("channel_id", "0")
        return json_response(self._message(channel, call.body, call))

    def _send(self, call: RestCall, channel_id: str) -> web.Response:
        return json_response(self._message(channel_id, call.body, call))

    def _edit(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        if message_id not in self.messages:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        return json_response(self._update_message(message_id, call.body))

    def _thread(self, call: RestCall, channel_id: str, message_id: str) -> web.Response:
        if channel_id in self.no_threads:
            return json_response(
                {"message": "Cannot execute action on this channel type", "code": 50024}, 400
            )
        if message_id in self.no_threads:  # already has a thread
            return json_response(
                {"message": "A thread has already been created for this message", "code": 160004},
                400,
            )
        self.no_threads.add(message_id)
        body = call.body or {}
        return json_response(
            {
                "id": message_id,  # Discord: a thread started from a message takes its id
                "type": 11,
                "guild_id": GUILD_A,
                "parent_id": channel_id,
                "owner_id": APP_ID,
                "name": body.get("name", ""),
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": body.get("auto_archive_duration", 1440),
                    "archive_timestamp": "2026-03-02T08:00:00+00:00",
                    "locked": False,
                },
            },
            201,
        )

    def _dm(self, call: RestCall) -> web.Response:
        recipient = str((call.body or {}).get("recipient_id"))
        return json_response(
            {
                "id": self.dm_channel_id(recipient),
                "type": 1,
                "recipients": [self.users.get(recipient, user(recipient, "someone"))],
                "last_message_id": None,
            }
        )

    def _no_content(self, call: RestCall, *args: str) -> web.StreamResponse:
        return web.Response(status=204)

    @staticmethod
    def dm_channel_id(user_id: str) -> str:
        return "6" + user_id[1:]

    # --- gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        socket = _Socket(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame["op"] == 2:
                identify = frame["d"]
                self.identifies.append(identify)
                shard = tuple(identify.get("shard") or (0, 1))
                socket.shard = (int(shard[0]), int(shard[1]))
                self._sessions[f"session-{socket.shard[0]}"] = socket.shard
                socket.sequence += 1
                await ws.send_json(
                    {
                        "op": 0,
                        "t": "READY",
                        "s": socket.sequence,
                        "d": {
                            "v": 10,
                            "user": BOT_USER,
                            "guilds": [
                                {"id": guild, "unavailable": True} for guild in sorted(self.guilds)
                            ],
                            "session_id": f"session-{socket.shard[0]}",
                            "resume_gateway_url": self.gateway_url,
                            "shard": list(socket.shard),
                            "application": {"id": APP_ID, "flags": 0},
                        },
                    }
                )
                async with self._socket_ready:
                    self._sockets[socket.shard[0]] = socket
                    self._socket_ready.notify_all()
            elif frame["op"] == 6:  # RESUME: the session goes on where it stopped
                resume = frame["d"]
                self.resumes.append(resume)
                socket.shard = self._sessions.get(str(resume.get("session_id")), (0, 1))
                socket.sequence = int(resume.get("seq") or 0) + 1
                await ws.send_json({"op": 0, "t": "RESUMED", "s": socket.sequence, "d": {}})
                async with self._socket_ready:
                    self._sockets[socket.shard[0]] = socket
                    self._socket_ready.notify_all()
            elif frame["op"] == 1:
                await ws.send_json({"op": 11})
        async with self._socket_ready:
            if self._sockets.get(socket.shard[0]) is socket:
                del self._sockets[socket.shard[0]]
        return ws

    async def wait_shards(self, count: int = 1, within: float = 10.0) -> None:
        async with self._socket_ready:
            await asyncio.wait_for(
                self._socket_ready.wait_for(lambda: len(self._sockets) >= count), within
            )

    @property
    def shard_ids(self) -> list[int]:
        return sorted(self._sockets)

    async def dispatch(self, event: str, data: Mapping[str, Any], *, shard: int = 0) -> None:
        await self.wait_shards(shard + 1)
        socket = self._sockets[shard]
        socket.sequence += 1
        await socket.ws.send_json({"op": 0, "t": event, "s": socket.sequence, "d": dict(data)})

    async def reconnect(self, *, shard: int = 0) -> None:
        """Ask a shard to reconnect (op 7, as Discord does before a restart of its gateway);
        the client comes back with RESUME on a new socket."""
        await self.wait_shards(shard + 1)
        socket = self._sockets.pop(shard)
        await socket.ws.send_json({"op": 7, "d": None})

    async def join_guild(self, guild_id: str, name: str, *, shard: int = 0) -> None:
        self.guilds.add(guild_id)
        await self.dispatch("GUILD_CREATE", guild_payload(guild_id, name), shard=shard)

    async def leave_guild(self, guild_id: str, *, shard: int = 0) -> None:
        self.guilds.discard(guild_id)
        await self.dispatch("GUILD_DELETE", {"id": guild_id}, shard=shard)

    # --- interactions --------------------------------------------------------------------

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        member: Mapping[str, Any] | None,
        guild_id: str | None,
        channel_id: str | None,
        permissions: str,
        message: Mapping[str, Any] | None = None,
        channel_name: str = "interview-prep",
        thread_of: str | None = None,
    ) -> tuple[InteractionRef, dict[str, Any]]:
        interaction_id = self.snowflake()
        token = f"token-{interaction_id}"
        who = dict(member or ALICE)
        self.users.setdefault(who["id"], who)
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": APP_ID,
            "type": kind,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "data": data,
        }
        if guild_id is not None:
            channel = channel_id or CHANNEL_A
            payload.update(
                guild_id=guild_id,
                guild={"id": guild_id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=channel,
                channel={
                    "id": channel,
                    "type": 0,
                    "guild_id": guild_id,
                    "name": channel_name,
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "rate_limit_per_user": 0,
                    "flags": 0,
                },
                member={
                    "user": who,
                    "roles": [],
                    "joined_at": "2025-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "pending": False,
                    "nick": None,
                    "avatar": None,
                    "permissions": permissions,
                },
                app_permissions=BOT_PERMISSIONS,
                authorizing_integration_owners={"0": guild_id},
                context=0,
            )
            if thread_of is not None:  # a public thread in the channel ``thread_of``
                payload["channel"].update(
                    type=11,
                    parent_id=thread_of,
                    owner_id=APP_ID,
                    message_count=1,
                    member_count=1,
                    thread_metadata={
                        "archived": False,
                        "auto_archive_duration": 1440,
                        "archive_timestamp": "2026-03-02T08:00:00+00:00",
                        "locked": False,
                    },
                )
        else:
            channel = channel_id or self.dm_channel_id(who["id"])
            payload.update(
                channel_id=channel,
                channel={"id": channel, "type": 1, "recipients": [who], "flags": 0},
                user=who,
                app_permissions=BOT_PERMISSIONS,
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = dict(message)
        self._interactions[token] = {
            "id": interaction_id,
            "type": kind,
            "channel_id": payload["channel_id"],
            "guild_id": guild_id,
        }
        return InteractionRef(interaction_id, token), payload

    async def slash(
        self,
        subcommand: str,
        options: Sequence[Mapping[str, Any]] = (),
        *,
        member: Mapping[str, Any] | None = None,
        guild_id: str | None = GUILD_A,
        channel_id: str | None = CHANNEL_A,
        permissions: str = MEMBER_PERMISSIONS,
        resolved: Mapping[str, Any] | None = None,
        shard: int = 0,
        channel_name: str = "interview-prep",
        thread_of: str | None = None,
    ) -> InteractionRef:
        """``/interview <subcommand>`` with ``options`` (each {name, type, value}); with
        ``thread_of``, from a thread (``channel_id``) in that channel."""
        data: dict[str, Any] = {
            "id": "7100000000000000001",
            "name": "interview",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": list(options)}],
        }
        if resolved:
            data["resolved"] = dict(resolved)
        ref, payload = self._interaction(
            2,
            data,
            member=member,
            guild_id=guild_id,
            channel_id=channel_id if guild_id is not None else None,
            permissions=permissions,
            channel_name=channel_name,
            thread_of=thread_of,
        )
        await self.send_interaction(payload, shard=shard)
        return ref

    async def autocomplete(
        self,
        subcommand: str,
        focused: str,
        value: str,
        other: Sequence[Mapping[str, Any]] = (),
        *,
        member: Mapping[str, Any] | None = None,
        guild_id: str | None = GUILD_A,
        permissions: str = MEMBER_PERMISSIONS,
    ) -> InteractionRef:
        options = [*other, {"name": focused, "type": 3, "value": value, "focused": True}]
        data = {
            "id": "7100000000000000001",
            "name": "interview",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": options}],
        }
        ref, payload = self._interaction(
            4,
            data,
            member=member,
            guild_id=guild_id,
            channel_id=CHANNEL_A if guild_id else None,
            permissions=permissions,
        )
        await self.send_interaction(payload)
        return ref

    async def click(
        self,
        message: Mapping[str, Any],
        custom_id: str,
        *,
        member: Mapping[str, Any] | None = None,
        guild_id: str | None = GUILD_A,
        permissions: str = MEMBER_PERMISSIONS,
        shard: int = 0,
    ) -> InteractionRef:
        """A click on the button ``custom_id`` of a message the bot sent."""
        ref, payload = self._interaction(
            3,
            {"custom_id": custom_id, "component_type": 2},
            member=member,
            guild_id=guild_id,
            channel_id=message.get("channel_id") if guild_id is not None else None,
            permissions=permissions,
            message=message,
        )
        await self.send_interaction(payload, shard=shard)
        return ref

    def modal_submit_payload(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        member: Mapping[str, Any] | None = None,
        guild_id: str | None = GUILD_A,
        channel_id: str | None = CHANNEL_A,
        permissions: str = MEMBER_PERMISSIONS,
    ) -> tuple[InteractionRef, dict[str, Any]]:
        """A modal submit payload: each value sits in a label (type 18) like Discord sends it;
        a list is a select's chosen values."""
        components = []
        for number, (input_id, value) in enumerate(values.items(), start=1):
            if isinstance(value, str):
                inner: dict[str, Any] = {
                    "type": 4,
                    "id": number * 2,
                    "custom_id": input_id,
                    "value": value,
                }
            else:
                inner = {"type": 3, "id": number * 2, "custom_id": input_id, "values": list(value)}
            components.append({"type": 18, "id": number * 2 - 1, "component": inner})
        return self._interaction(
            5,
            {"custom_id": custom_id, "components": components},
            member=member,
            guild_id=guild_id,
            channel_id=channel_id if guild_id is not None else None,
            permissions=permissions,
        )

    async def send_interaction(self, payload: dict[str, Any], *, shard: int = 0) -> None:
        await self.dispatch("INTERACTION_CREATE", payload, shard=shard)

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        shard: int = 0,
        **context: Any,
    ) -> InteractionRef:
        """Submit a modal (see ``modal_submit_payload``)."""
        ref, payload = self.modal_submit_payload(custom_id, values, **context)
        await self.send_interaction(payload, shard=shard)
        return ref

    # --- reading what the bot sent -------------------------------------------------------

    def callback(self, ref: InteractionRef) -> dict[str, Any]:
        [call] = [c for c in self.calls if c.method == "POST" and c.path == ref.callback_path]
        return call.body

    async def wait_callback(self, ref: InteractionRef, within: float = 10.0) -> dict[str, Any]:
        call = await self.wait_call("POST", re.escape(ref.callback_path), within=within)
        return call.body

    async def first_reply(self, ref: InteractionRef, within: float = 10.0) -> dict[str, Any]:
        """The first message the bot answered with: the callback's message, or, when it
        deferred (slow work), the edit of the deferred response."""
        callback = await self.wait_callback(ref, within=within)
        if callback["type"] == 5:
            return await self.wait_original(ref, within=within)
        assert callback["type"] in (4, 7), callback
        return callback["data"]

    def replied_privately(self, ref: InteractionRef) -> bool:
        """Whether the interaction's response (or its deferral) was ephemeral."""
        return bool(((self.callback(ref).get("data") or {}).get("flags") or 0) & 64)

    async def wait_original(self, ref: InteractionRef, within: float = 10.0) -> dict[str, Any]:
        call = await self.wait_call("PATCH", re.escape(ref.original_path), within=within)
        return call.body

    async def wait_followups(
        self, ref: InteractionRef, count: int = 1, within: float = 10.0
    ) -> list[dict[str, Any]]:
        calls = await self.wait_for(
            lambda call: call.method == "POST" and call.path == ref.followup_path,
            count=count,
            within=within,
        )
        return [call.body for call in calls]

    def sent_to(self, channel_id: str) -> list[RestCall]:
        return self.calls_to("POST", rf"channels/{channel_id}/messages")

    def posted_in(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages the bot created in a channel (or thread), oldest first."""
        return [
            message
            for call, message in self.created
            if call.method == "POST" and call.path == f"channels/{channel_id}/messages"
        ]

    def bodies(self) -> list[dict[str, Any]]:
        """Every message body the bot sent or edited (channels, webhooks, interaction
        callbacks), for checks that must hold for all of them."""
        found = []
        for call in self.calls:
            body = call.body
            if not isinstance(body, dict) or call.method not in ("POST", "PATCH"):
                continue
            if call.path.endswith("/callback"):
                body = body.get("data") or {}
                if "embeds" not in body and "content" not in body:
                    continue
            elif not re.search(r"(messages(/[^/]+)?|webhooks/\d+/[^/]+)$", call.path):
                continue
            found.append(body)
        return found


def guild_payload(guild_id: str, name: str) -> dict[str, Any]:
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "owner_id": ADMIN["id"],
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "roles": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": [],
        "threads": [],
        "members": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "member_count": 3,
        "large": False,
        "unavailable": False,
        "joined_at": "2026-03-02T08:00:00+00:00",
        "system_channel_flags": 0,
    }


def option(name: str, value: Any, kind: int = 3) -> dict[str, Any]:
    """A slash command option (3 string, 4 integer, 5 boolean, 6 user, 7 channel)."""
    return {"name": name, "type": kind, "value": value}


def embeds_text(body: Mapping[str, Any] | None) -> str:
    """Every visible text of a message body (content, embeds), for assertions."""
    if not body:
        return ""
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        for item in embed.get("fields", []):
            parts += [item.get("name", ""), item.get("value", "")]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(part for part in parts if part)


def custom_ids(body: Mapping[str, Any] | None) -> list[str]:
    """The custom ids of every component in a message or modal body."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, Mapping):
            if "custom_id" in item:
                found.append(item["custom_id"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk((body or {}).get("components") or (body or {}).get("data", {}).get("components"))
    return found
