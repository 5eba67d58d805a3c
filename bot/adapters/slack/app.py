"""The Slack adapter's wiring: a slack-bolt ``AsyncApp`` on the bot's own event loop.

``SlackAdapter.start(app, http)``:
- builds the Web API client (``SLACK_API_URL`` base, slack_sdk's rate-limit and connection
  retry handlers) and the ``AsyncApp`` with request signature checks;
- one workspace (``SLACK_BOT_TOKEN``) or many (``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``:
  Bolt's OAuth install flow at ``/slack/install`` and ``/slack/oauth_redirect``, installations
  and OAuth states in the project's database, tokens encrypted);
- HTTP mode mounts ``POST /slack/events`` on the runtime's aiohttp application (served on
  ``SLACK_PORT``); Socket Mode (``SLACK_APP_TOKEN``) connects a websocket instead;
- registers the listeners (``listeners/``) and builds the notifier (``notifier.py``).

Listeners run with ``process_before_response``: each acknowledges first and hands any slow work
to the bridge's background tasks, so an acknowledgement never waits for a grade or a Web API
call. In one-workspace HTTP mode the answer form's submissions skip Bolt's general dispatch
(``answer_intake.py``: the same signature check and listener code, less CPU per request). Nothing here holds a rule of the game.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.adapters.slack.answer_intake import REFUSED, AnswerIntake
from bot.adapters.slack.bridge import SlackBridge
from bot.adapters.slack.installations import (
    InstalledTokens,
    SqlInstallationStore,
    SqlOAuthStateStore,
    StaticTokens,
    TokenSealer,
    TokenSource,
)
from bot.adapters.slack.listeners import register
from bot.adapters.slack.notifier import SlackNotifier
from bot.app import BotApp
from bot.config import Settings
from bot.runtime import AdapterUnavailable
from bot.storage.models import Platform

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SLACK_API_URL = "https://slack.com/api/"
SOCKET_CONNECT_SECONDS = 30.0


class SlackUnavailable(AdapterUnavailable):
    """The Slack adapter cannot start (a wrong token, Socket Mode unreachable)."""


def build_web_client(
    settings: Settings,
    token: str | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    """The Web API client: the configured base URL, one connection pool (``session``, shared
    by the per-request clients Bolt derives from it), and retries that honour Slack's
    Retry-After once before a 429 reaches the caller."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url or SLACK_API_URL,
        session=session,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


def _plausible_timestamp(value: str | None) -> bool:
    """Missing (Bolt refuses it with 401 itself) or ASCII digits, which ``int()`` accepts."""
    return value is None or (value.isascii() and value.isdigit())


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


class SlackAdapter:
    """Serves Slack workspaces: the ``ChatAdapter`` that ``bot.runtime`` loads."""

    platform = Platform.SLACK

    def __init__(self, settings: Settings):
        if not settings.slack_configured:
            raise SlackUnavailable(
                "Slack needs SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) and "
                "SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)"
            )
        self.settings = settings
        self.bolt: AsyncApp | None = None
        self.bridge: SlackBridge | None = None
        self.client: AsyncWebClient | None = None
        self.installations: SqlInstallationStore | None = None
        self.socket_handler: Any = None
        #: Answer submissions acknowledged before Bolt's dispatch (one workspace, HTTP mode).
        self.answer_intake: AnswerIntake | None = None
        self.team_id: str | None = None
        self._notifier: SlackNotifier | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def notifier(self) -> SlackNotifier:
        if self._notifier is None:
            raise RuntimeError("the Slack adapter is not started")
        return self._notifier

    def connected(self) -> bool:
        """For /healthz: started, and in Socket Mode the websocket is open (HTTP mode has no
        connection of its own: Slack calls in)."""
        if self.bolt is None:
            return False
        if self.socket_handler is None:
            return True
        client = self.socket_handler.client
        session = client.current_session
        return not client.closed and session is not None and not session.closed

    # --- start and stop --------------------------------------------------------------------

    async def start(self, app: BotApp, http: web.Application) -> None:
        settings = self.settings
        signing_secret = _secret(settings.slack_signing_secret)
        tokens: TokenSource
        self._session = aiohttp.ClientSession()
        if settings.slack_oauth:
            client = build_web_client(settings, session=self._session)
            bolt, tokens = self._oauth_app(app, client, signing_secret)
        else:
            token = _secret(settings.slack_bot_token)
            assert token is not None
            client = build_web_client(settings, token, session=self._session)
            auth = await self._check_token(app, client)
            bolt = AsyncApp(
                client=client,
                signing_secret=signing_secret,
                request_verification_enabled=signing_secret is not None,
                process_before_response=True,
                logger=logging.getLogger("slack_bolt"),
            )
            # Bolt calls auth.test on its first request and remembers it; many first requests
            # at once would each call it: give it the start-up answer instead
            for middleware in bolt._async_middleware_list:
                if isinstance(middleware, AsyncSingleTeamAuthorization):
                    middleware.auth_test_result = auth
            tokens = StaticTokens(token)
        self.client, self.bolt = client, bolt
        self.bridge = SlackBridge(
            app, forget_tokens=self._forget_tokens if self.installations else None
        )
        register(bolt, self.bridge)
        if signing_secret is not None and not settings.slack_oauth:
            self.answer_intake = AnswerIntake(self.bridge, signing_secret)
        self._notifier = SlackNotifier(client, tokens)
        if settings.slack_oauth:
            http.router.add_get(INSTALL_PATH, self._oauth_page)
            http.router.add_get(REDIRECT_PATH, self._oauth_page)
        if settings.slack_socket_mode:
            await self._connect_socket(bolt, _secret(settings.slack_app_token) or "")
        else:
            http.router.add_post(EVENTS_PATH, self._events)
        log.info(
            "Slack adapter ready: %s, %s",
            "OAuth (many workspaces)" if settings.slack_oauth else "one workspace",
            "Socket Mode" if settings.slack_socket_mode else f"HTTP {EVENTS_PATH}",
        )

    async def stop(self) -> None:
        if self.socket_handler is not None:
            with contextlib.suppress(Exception):
                await self.socket_handler.close_async()
            self.socket_handler = None
        if self.bridge is not None:
            await self.bridge.tasks.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _check_token(self, app: BotApp, client: AsyncWebClient) -> AsyncSlackResponse:
        """One workspace: fail fast on a wrong token, and (re-)enable the workspace."""
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            raise SlackUnavailable(
                f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')})"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackUnavailable(
                f"the Slack Web API cannot be reached ({type(exc).__name__})"
            ) from None
        self.team_id = str(auth.get("team_id") or "")
        if self.team_id:
            await app.directory.workspace(Platform.SLACK, self.team_id, str(auth.get("team") or ""))
        return auth

    async def _connect_socket(self, bolt: AsyncApp, app_token: str) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt, app_token)
        try:
            await asyncio.wait_for(handler.connect_async(), SOCKET_CONNECT_SECONDS)
        except (TimeoutError, SlackApiError) as exc:
            with contextlib.suppress(Exception):
                await handler.close_async()
            raise SlackUnavailable(
                f"Socket Mode could not connect ({type(exc).__name__}); check SLACK_APP_TOKEN"
            ) from None
        self.socket_handler = handler

    # --- many workspaces -------------------------------------------------------------------

    def _oauth_app(
        self, app: BotApp, client: AsyncWebClient, signing_secret: str | None
    ) -> tuple[AsyncApp, TokenSource]:
        settings = self.settings
        client_id = settings.slack_client_id or ""
        client_secret = _secret(settings.slack_client_secret) or ""
        key = _secret(settings.slack_token_encryption_key)
        assert key is not None  # Settings refuses OAuth without it
        store = SqlInstallationStore(
            app.sessions, app.clock, client_id=client_id, sealer=TokenSealer(key)
        )
        states = SqlOAuthStateStore(
            app.sessions,
            app.clock,
            secret=_secret(settings.slack_state_secret) or client_secret,
        )
        self.installations = store

        async def installed(args: AsyncSuccessArgs) -> BoltResponse:
            installation = args.installation
            if installation.team_id:
                await app.directory.workspace(
                    Platform.SLACK, installation.team_id, installation.team_name or ""
                )
            return await args.default.success(args)

        async def failed(args: AsyncFailureArgs) -> BoltResponse:
            log.warning("a Slack installation failed: %s", args.reason)
            return await args.default.failure(args)

        oauth_settings = AsyncOAuthSettings(
            client_id=client_id,
            client_secret=client_secret,
            scopes=[scope.strip() for scope in settings.slack_scopes.split(",") if scope.strip()],
            installation_store=store,
            state_store=states,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            callback_options=AsyncCallbackOptions(success=installed, failure=failed),
        )
        authorize = AsyncInstallationStoreAuthorize(
            logger=logging.getLogger("slack_bolt"),
            installation_store=store,
            client_id=client_id,
            client_secret=client_secret,
            cache_enabled=True,  # auth.test once per token, not on every request
            client=client,
        )
        bolt = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            process_before_response=True,
            oauth_settings=oauth_settings,
            installation_store=store,
            authorize=authorize,  # type: ignore[arg-type]  # Bolt accepts its own AsyncAuthorize
            logger=logging.getLogger("slack_bolt"),
        )
        rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=client)
        return bolt, InstalledTokens(store, rotator)

    async def _forget_tokens(self, team_id: str, everything: bool) -> None:
        store = self.installations
        if store is None:
            return
        if everything:
            await store.async_delete_all(enterprise_id=None, team_id=team_id)
        else:
            await store.async_delete_bot(enterprise_id=None, team_id=team_id)

    # --- HTTP ------------------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: commands, interactivity and events (Bolt verifies the
        signature and the timestamp: a forged or stale request gets 401)."""
        assert self.bolt is not None
        if not _plausible_timestamp(request.headers.get("X-Slack-Request-Timestamp")):
            # Bolt and slack_sdk's SignatureVerifier call int() on it: "abc" was a 500 and a
            # traceback instead of the 401 any other unverifiable request gets
            return web.json_response(REFUSED, status=401)
        if self.answer_intake is not None:
            answered = await self.answer_intake.handle(request)
            if answered is not None:
                return answered
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, AttributeError, TypeError):
            # Bolt parses the body before it checks the signature: "payload=notjson", "[]" or
            # "{bad" from anyone were a 500 and an error with a traceback
            return web.json_response({"error": "malformed request"}, status=400)
        response = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def _oauth_page(self, request: web.Request) -> web.Response:
        """``GET /slack/install`` and ``GET /slack/oauth_redirect``."""
        assert self.bolt is not None and self.bolt.oauth_flow is not None
        flow = self.bolt.oauth_flow
        bolt_request = await to_bolt_request(request)
        if request.path == flow.install_path:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)
