"""A loopback fake of Slack, for testing the real slack-bolt / slack_sdk code of the adapter.

One aiohttp server on 127.0.0.1 plays every part of Slack the bot talks to:

* the Web API (``POST /api/<method>``, form-encoded or JSON, token in the Authorization header
  or the body): ``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
  ``conversations.open``, ``views.open/push/update/publish``, ``users.info``,
  ``oauth.v2.access``, ``apps.connections.open``, ``files.getUploadURLExternal`` and
  ``files.completeUploadExternal`` (the bytes go to ``POST /upload/<file id>``, kept in
  :attr:`FakeSlack.uploads`); anything else answers ``{"ok": true}``;
* response URLs (``POST /hooks/<name>``), where ``respond()`` sends ephemeral replies;
* the Socket Mode websocket (``GET /socket``): tests push envelopes and read the acks.

Every call is recorded (:attr:`FakeSlack.calls`) with the token it used. Tokens belong to teams
(:meth:`FakeSlack.add_team`); an unknown token gets ``invalid_auth``. Failures can be queued per
method (:meth:`FakeSlack.fail`): a 429 with Retry-After, or an error code such as
``user_not_in_channel``. :class:`RateLimits` makes it enforce Slack's posting limits (one message
per second per channel, a global rate) with 429 and Retry-After. :class:`SlackSim` plays the Slack platform's side: it sends the bot
signed slash commands, button clicks, modal submissions and events, exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import random
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    bot_id: str
    bot_user_id: str


@dataclass(frozen=True)
class Call:
    method: str
    data: dict[str, Any]
    token: str | None
    at: float
    failed: bool = False

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.data.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @property
    def view(self) -> dict[str, Any]:
        view = self.data.get("view") or {}
        return json.loads(view) if isinstance(view, str) else dict(view)


@dataclass(frozen=True)
class Failure:
    status: int = 200
    error: str = "internal_error"
    retry_after: int | None = None


@dataclass
class RandomFailures:
    """Fail ``rate`` of the calls to ``methods`` with one of ``failures``, chosen by ``rng``."""

    rate: float
    rng: random.Random
    failures: tuple[Failure, ...]
    methods: frozenset[str] = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})

    def pick(self, method: str) -> Failure | None:
        if method not in self.methods or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.failures)


@dataclass
class RateLimits:
    """Slack's posting limits on ``methods``: one message per ``per_channel_seconds`` in a
    channel, and (``per_second``) at most that many messages in any second overall. A call over
    a limit is refused with HTTP 429 ``ratelimited`` and a Retry-After in whole seconds, as Slack
    does, and counted in ``rejected``; an accepted call counts against the limits."""

    per_channel_seconds: float = 1.0
    per_second: float | None = None
    methods: frozenset[str] = frozenset({"chat.postMessage"})
    clock: Callable[[], float] = time.monotonic
    rejected: int = 0
    _last: dict[str, float] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)

    def wait(self, method: str, data: Mapping[str, Any]) -> int | None:
        """Seconds the caller must wait (None: the call is accepted and counted)."""
        if method not in self.methods:
            return None
        now = self.clock()
        channel = str(data.get("channel"))
        wait = 0.0
        last = self._last.get(channel)
        if last is not None and now - last < self.per_channel_seconds:
            wait = self.per_channel_seconds - (now - last)
        if self.per_second is not None:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.per_second:
                wait = max(wait, 1.0 - (now - self._recent[0]))
        if wait > 0:
            self.rejected += 1
            return max(1, math.ceil(wait))
        self._last[channel] = now
        self._recent.append(now)
        return None


@dataclass
class Install:
    """What ``oauth.v2.access`` returns for a code."""

    team: Team
    token: str
    client_id: str
    client_secret: str
    installer: str = "UINSTALLER"
    app_id: str = "A0APP"


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    random_failures: RandomFailures | None = None
    rate_limits: RateLimits | None = None

    def __post_init__(self) -> None:
        self._teams: dict[str, Team] = {}
        self._failures: dict[str, deque[Failure]] = {}
        self._installs: dict[str, Install] = {}
        self._refreshes: dict[str, tuple[Team, str]] = {}
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._socket_open = asyncio.Event()
        self.app_tokens: set[str] = set()
        #: files uploaded through files_upload_v2: file id -> bytes
        self.uploads: dict[str, bytes] = {}
        self._files = itertools.count(1)

    # --- set-up ----------------------------------------------------------------------------

    def add_team(self, token: str, team_id: str, name: str = "") -> Team:
        team = Team(team_id, name or f"Team {team_id}", f"B{team_id}", f"UBOT{team_id}")
        self._teams[token] = team
        return team

    def add_user(
        self, user_id: str, name: str, *, admin: bool = False, owner: bool = False
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": name,
            "is_admin": admin,
            "is_owner": owner,
            "profile": {"display_name": name, "real_name": name},
        }

    def expect_install(self, code: str, install: Install) -> None:
        self._installs[code] = install

    def fail(self, method: str, *failures: Failure) -> None:
        self._failures.setdefault(method, deque()).extend(failures)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # users.info and friends use GET
        app.router.add_post("/hooks/{name:.*}", self._hook)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for socket in self.sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def hook_url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    # --- inspection ------------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def hook(self, name: str) -> list[dict[str, Any]]:
        return [body for path, body in self.hooks if path == name]

    async def wait_until(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every recorded request)."""

        async def check() -> Any:
            async with self._changed:
                while True:
                    value = condition()
                    if value:
                        return value
                    await self._changed.wait()

        return await asyncio.wait_for(check(), within)

    async def wait_for(self, method: str, count: int = 1, within: float = 10.0) -> list[Call]:
        await self.wait_until(lambda: len(self.of(method)) >= count, within)
        return self.of(method)

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the Web API -----------------------------------------------------------------------

    @staticmethod
    def _parse(body: bytes, content_type: str) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in content_type:
            value = json.loads(body)
            return value if isinstance(value, dict) else {}
        return dict(urllib.parse.parse_qsl(body.decode()))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        data = dict(request.query)
        data.update(self._parse(await request.read(), request.headers.get("Content-Type", "")))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else data.get("token")
        failure = self._next_failure(method)
        if failure is None and self.rate_limits is not None:
            wait = self.rate_limits.wait(method, data)
            if wait is not None:
                failure = Failure(429, "ratelimited", retry_after=wait)
        self.calls.append(Call(method, data, token, time.monotonic(), failure is not None))
        try:
            return await self._answer(method, data, token, auth, failure)
        finally:
            await self._changed_now()

    def _next_failure(self, method: str) -> Failure | None:
        queued = self._failures.get(method)
        if queued:
            return queued.popleft()
        if self.random_failures is not None:
            return self.random_failures.pick(method)
        return None

    async def _answer(
        self,
        method: str,
        data: dict[str, Any],
        token: str | None,
        auth: str,
        failure: Failure | None = None,
    ) -> web.Response:
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        if method == "oauth.v2.access":
            return self._oauth_access(data, auth)
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        team = self._teams.get(token or "")
        if team is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": f"https://{team.id.lower()}.example/",
                    "team": team.name,
                    "team_id": team.id,
                    "user": "interview-bot",
                    "user_id": team.bot_user_id,
                    "bot_id": team.bot_id,
                    "is_enterprise_install": False,
                }
            )
        if method in {"chat.postMessage", "chat.update"}:
            ts = data.get("ts") or f"{1_700_000_000 + next(self._ts)}.000100"
            return web.json_response({"ok": True, "channel": data.get("channel"), "ts": ts})
        if method == "chat.postEphemeral":
            return web.json_response({"ok": True, "message_ts": f"{time.time():.6f}"})
        if method == "conversations.open":
            return web.json_response({"ok": True, "channel": {"id": f"D{data.get('users')}"}})
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._files)}"
            upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return web.json_response({"ok": True, "upload_url": upload_url, "file_id": file_id})
        if method == "files.completeUploadExternal":
            files = data.get("files") or "[]"
            listed = json.loads(files) if isinstance(files, str) else list(files)
            if any(item.get("id") not in self.uploads for item in listed):
                return web.json_response({"ok": False, "error": "file_not_found"})
            return web.json_response({"ok": True, "files": listed})
        if method in {"views.open", "views.push", "views.update", "views.publish"}:
            return web.json_response({"ok": True, "view": {"id": f"V{next(self._views)}"}})
        if method == "users.info":
            user = self.users.get(str(data.get("user")))
            if user is None:
                return web.json_response({"ok": False, "error": "user_not_found"})
            return web.json_response({"ok": True, "user": {**user, "team_id": team.id}})
        return web.json_response({"ok": True})

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['file_id']])}")

    def uploaded(self, channel: str) -> list[tuple[str, bytes]]:
        """(title, bytes) of every file completed into ``channel``."""
        found = []
        for call in self.of("files.completeUploadExternal"):
            if call.failed or call.data.get("channel_id") != channel:
                continue
            files = call.data.get("files") or "[]"
            for item in json.loads(files) if isinstance(files, str) else files:
                found.append((str(item.get("title")), self.uploads.get(str(item.get("id")), b"")))
        return found

    def expect_refresh(self, refresh_token: str, team: Team, new_token: str) -> None:
        """Token rotation: ``oauth.v2.access`` with this refresh token returns ``new_token``."""
        self._refreshes[refresh_token] = (team, new_token)

    def _oauth_access(self, data: dict[str, Any], auth: str) -> web.Response:
        if data.get("grant_type") == "refresh_token":
            refreshed = self._refreshes.pop(str(data.get("refresh_token")), None)
            if refreshed is None:
                return web.json_response({"ok": False, "error": "invalid_refresh_token"})
            team, new_token = refreshed
            self._teams[new_token] = team
            return web.json_response(
                {
                    "ok": True,
                    "token_type": "bot",
                    "access_token": new_token,
                    "refresh_token": f"refresh-{new_token}",
                    "expires_in": 43200,
                    "team": {"id": team.id, "name": team.name},
                }
            )
        install = self._installs.get(str(data.get("code")))
        if install is None:
            return web.json_response({"ok": False, "error": "invalid_code"})
        expected = base64.b64encode(
            f"{install.client_id}:{install.client_secret}".encode()
        ).decode()
        if auth != f"Basic {expected}":
            return web.json_response({"ok": False, "error": "invalid_client_id"})
        self._teams[install.token] = install.team
        return web.json_response(
            {
                "ok": True,
                "app_id": install.app_id,
                "access_token": install.token,
                "token_type": "bot",
                "scope": "commands,chat:write",
                "bot_user_id": install.team.bot_user_id,
                "team": {"id": install.team.id, "name": install.team.name},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": install.installer},
            }
        )

    async def _hook(self, request: web.Request) -> web.Response:
        self.hooks.append((request.match_info["name"], await request.json()))
        await self._changed_now()
        return web.Response(text="ok")

    # --- Socket Mode -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()  # autoping answers the client's pings
        await socket.prepare(request)
        self.sockets.append(socket)
        self._socket_open.set()
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                await self.socket_frames.put(json.loads(frame.data))
        return socket

    async def socket_connected(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self._socket_open.wait(), within)

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        await self.sockets[-1].send_str(json.dumps(envelope))

    async def socket_ack(self, envelope_id: str, within: float = 5.0) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.socket_frames.get(), within)
            if frame.get("envelope_id") == envelope_id:
                return frame


# --- the Slack platform's side: signed requests to the bot --------------------------------------


@dataclass
class Response:
    status: int
    text: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackSim:
    """Sends the bot what Slack sends: form-encoded slash commands, ``payload=`` interactions
    and JSON events, signed with the app's signing secret."""

    def __init__(self, url: str, secret: str, fake: FakeSlack, session: aiohttp.ClientSession):
        self.url = url
        self.secret = secret
        self.fake = fake
        self.session = session
        self._triggers = itertools.count(1)

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=stamp, body=body)
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post(
        self,
        body: str,
        content_type: str = "application/x-www-form-urlencoded",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        started = time.perf_counter()
        async with self.session.post(
            self.url,
            data=body.encode(),
            headers={"Content-Type": content_type, **(headers or self.sign(body))},
        ) as response:
            text = await response.text()
        return Response(response.status, text, time.perf_counter() - started)

    def trigger(self) -> str:
        return f"{next(self._triggers)}.1.trigger"

    def command_body(
        self, text: str, *, user: str, team: str = "T1", channel: str = "C1", hook: str = ""
    ) -> str:
        return urllib.parse.urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": team,
                "team_domain": team.lower(),
                "channel_id": channel,
                "channel_name": "interview-prep",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/interview",
                "text": text,
                "api_app_id": "A0APP",
                "response_url": self.fake.hook_url(hook or f"cmd-{team}-{user}"),
                "trigger_id": self.trigger(),
            }
        )

    async def command(
        self, text: str, *, user: str, team: str = "T1", channel: str = "C1", hook: str = ""
    ) -> Response:
        body = self.command_body(text, user=user, team=team, channel=channel, hook=hook)
        return await self.post(body)

    async def interact(self, payload: dict[str, Any]) -> Response:
        return await self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}))

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        team: str = "T1",
        channel: str | None = "C1",
        message_ts: str = "1700000001.000100",
        hook: str = "",
    ) -> Response:
        """A button on a message in ``channel`` (or, with ``channel=None``, on the App Home)."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "trigger_id": self.trigger(),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if channel is not None:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel, "name": "interview-prep"}
            payload["message"] = {"ts": message_ts, "text": "question"}
            payload["response_url"] = self.fake.hook_url(hook or f"click-{team}-{user}")
        else:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "team_id": team}
        return await self.interact(payload)

    async def submit(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]],
        *,
        user: str,
        team: str = "T1",
    ) -> Response:
        """Submit a modal the bot opened (its callback id and private metadata come back)."""
        payload = self.submission(view, values, user=user, team=team)
        return await self.interact(payload)

    @staticmethod
    def submission(
        view: Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]],
        *,
        user: str,
        team: str = "T1",
    ) -> dict[str, Any]:
        return {
            "type": "view_submission",
            "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "trigger_id": "9.9.trigger",
            "view": {
                "id": "VMODAL",
                "team_id": team,
                "type": "modal",
                "callback_id": view.get("callback_id"),
                "private_metadata": view.get("private_metadata", ""),
                "state": {"values": values},
                "hash": "h",
                "app_id": "A0APP",
            },
        }

    async def event(self, event: dict[str, Any], *, team: str = "T1") -> Response:
        body = json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": team,
                "api_app_id": "A0APP",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{next(self._triggers)}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "is_bot": True}],
            }
        )
        return await self.post(body, "application/json")


def text_value(text: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": text}


def select_value(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value, "text": {}}}


def time_value(value: str) -> dict[str, Any]:
    return {"type": "timepicker", "selected_time": value}


def answer_values(text: str | None) -> dict[str, dict[str, Any]]:
    return {"answer": {"text": text_value(text)}}


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every text of a Block Kit list, joined (what a reader could see)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)
