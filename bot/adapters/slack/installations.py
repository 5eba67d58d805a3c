"""Where the Slack tokens come from: Slack's install flow (OAuth) stores each workspace's
installation in the project's database, encrypted; the notifier asks for a workspace's bot token.

- ``SqlInstallationStore`` and ``SqlOAuthStateStore`` implement slack_sdk's async store protocols
  on the project's tables (``SlackInstallation``, ``SlackOAuthState``, created by migration 0004),
  so Bolt's OAuth flow and its per-request authorization use them directly.
- Every token stays encrypted at rest: the installation is sealed with Fernet (keys from
  ``SLACK_TOKEN_ENCRYPTION_KEY``; several keys allow rotation), only lookup keys are in clear.
- OAuth ``state`` values are stored as keyed hashes (HMAC with ``SLACK_STATE_SECRET``) and can
  be used once, before they expire.
- ``StaticTokens`` (one workspace, ``SLACK_BOT_TOKEN``) and ``InstalledTokens`` (many, from the
  store, rotating expiring tokens) give the notifier the right bot token per workspace.

Lookups are cached for a few seconds (Bolt asks on every request); a save or a delete in this
process clears the cache, other processes see it within ``cache_seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.storage.db import transaction
from bot.storage.models import SlackInstallation, SlackOAuthState

log = logging.getLogger(__name__)


class NotInstalled(LookupError):
    """No usable installation for the workspace (never installed, uninstalled, revoked)."""


class TokenSealer:
    """Encrypts installations with the first key and decrypts with any (key rotation)."""

    def __init__(self, keys: str):
        fernets = [Fernet(key.strip()) for key in keys.split(",") if key.strip()]
        if not fernets:
            raise ValueError("no encryption key")
        self._fernet = MultiFernet(fernets)

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, default=_json_default).encode()).decode()

    def unseal(self, sealed: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        return value


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot store {type(value).__name__}")


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """An installation's fields as ``Installation(**...)`` takes them back: expiry times as whole
    seconds, the install time as a float."""
    plain = dict(data)
    for name in ("bot_token_expires_at", "user_token_expires_at"):
        if isinstance(plain.get(name), datetime):
            plain[name] = int(plain[name].timestamp())
    if isinstance(plain.get("installed_at"), datetime):
        plain["installed_at"] = plain["installed_at"].timestamp()
    return plain


_Key = tuple[str | None, str | None, str | None, bool]


class SqlInstallationStore(AsyncInstallationStore):
    """slack_sdk's ``AsyncInstallationStore`` on the ``slack_installation`` table."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        client_id: str,
        sealer: TokenSealer,
        cache_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._sessions = sessions
        self._clock = clock
        self.client_id = client_id
        self._sealer = sealer
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[_Key, tuple[float, dict[str, Any] | None]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- writing ---------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        """Keep the latest installation per (workspace or org, installer)."""
        team_id = None if installation.is_enterprise_install else installation.team_id
        data = _plain(installation.to_dict_for_copying())
        row = SlackInstallation(
            client_id=self.client_id,
            app_id=installation.app_id,
            enterprise_id=installation.enterprise_id,
            team_id=team_id,
            user_id=installation.user_id or "",
            is_enterprise_install=installation.is_enterprise_install,
            has_bot=bool(installation.bot_token),
            installed_at=self._clock.now(),
            sealed=self._sealer.seal(data),
        )
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.delete(SlackInstallation).where(
                    *self._where(installation.enterprise_id, team_id),
                    col(SlackInstallation.user_id) == row.user_id,
                )
            )
            session.add(row)
        self._cache.clear()

    async def async_save_bot(self, bot: Bot) -> None:
        """A rotated bot token: replace the bot part of the latest installation."""
        latest = await self.async_find_installation(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            is_enterprise_install=bot.is_enterprise_install,
        )
        if latest is None:
            latest = Installation(
                app_id=bot.app_id,
                enterprise_id=bot.enterprise_id,
                team_id=bot.team_id,
                team_name=bot.team_name,
                user_id="",
                is_enterprise_install=bot.is_enterprise_install,
            )
        latest.bot_token = bot.bot_token
        latest.bot_id = bot.bot_id
        latest.bot_user_id = bot.bot_user_id
        latest.bot_scopes = bot.bot_scopes
        latest.bot_refresh_token = bot.bot_refresh_token
        latest.bot_token_expires_at = bot.bot_token_expires_at
        await self.async_save(latest)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._delete(enterprise_id, team_id, col(SlackInstallation.has_bot).is_(True))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        conditions = [] if user_id is None else [col(SlackInstallation.user_id) == user_id]
        await self._delete(enterprise_id, team_id, *conditions)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._delete(enterprise_id, team_id)

    async def _delete(
        self, enterprise_id: str | None, team_id: str | None, *conditions: sa.ColumnElement[bool]
    ) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.delete(SlackInstallation).where(
                    *self._where(enterprise_id, team_id), *conditions
                )
            )
        self._cache.clear()

    # --- reading ---------------------------------------------------------------------------

    def _where(self, enterprise_id: str | None, team_id: str | None) -> list[Any]:
        def equals(column: Any, value: str | None) -> Any:
            return column.is_(None) if value is None else column == value

        return [
            col(SlackInstallation.client_id) == self.client_id,
            equals(col(SlackInstallation.enterprise_id), enterprise_id),
            equals(col(SlackInstallation.team_id), team_id),
        ]

    async def _latest(self, key: _Key, *, bot_only: bool = False) -> dict[str, Any] | None:
        enterprise_id, team_id, user_id, is_enterprise_install = key
        cache_key: _Key = (enterprise_id, team_id, user_id or ("*bot" if bot_only else None),
                           is_enterprise_install)  # fmt: skip
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        query = sa.select(col(SlackInstallation.sealed)).where(*self._where(enterprise_id, team_id))
        if user_id is not None:
            query = query.where(col(SlackInstallation.user_id) == user_id)
        if bot_only:
            query = query.where(col(SlackInstallation.has_bot).is_(True))
        query = query.order_by(
            col(SlackInstallation.installed_at).desc(),
            col(SlackInstallation.id).desc(),
        ).limit(1)
        async with self._sessions() as session:
            sealed = (await session.execute(query)).scalar_one_or_none()
        data = None
        if sealed is not None:
            try:
                data = self._sealer.unseal(sealed)
            except InvalidToken:
                log.error(
                    "a stored Slack installation cannot be decrypted with "
                    "SLACK_TOKEN_ENCRYPTION_KEY (was the key changed without keeping the old one?)"
                )
        self._cache[cache_key] = (self._monotonic() + self._cache_seconds, data)
        return data

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if is_enterprise_install:
            team_id = None
        data = await self._latest((enterprise_id, team_id, user_id, bool(is_enterprise_install)))
        if data is None:
            return None
        installation = Installation(**data)  # a fresh object: Bolt edits what it gets
        if user_id is not None:
            # an installer's own row may hold an older bot token: use the latest one
            bot = await self._latest(
                (enterprise_id, team_id, None, bool(is_enterprise_install)), bot_only=True
            )
            if bot is not None and bot.get("bot_token") != installation.bot_token:
                latest = Installation(**bot)
                installation.bot_token = latest.bot_token
                installation.bot_id = latest.bot_id
                installation.bot_user_id = latest.bot_user_id
                installation.bot_scopes = latest.bot_scopes
                installation.bot_refresh_token = latest.bot_refresh_token
                installation.bot_token_expires_at = latest.bot_token_expires_at
        return installation

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        if is_enterprise_install:
            team_id = None
        data = await self._latest(
            (enterprise_id, team_id, None, bool(is_enterprise_install)), bot_only=True
        )
        return Installation(**data).to_bot() if data is not None else None


class SqlOAuthStateStore(AsyncOAuthStateStore):
    """slack_sdk's ``AsyncOAuthStateStore`` on the ``slack_oauth_state`` table."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        secret: str,
        expiration_seconds: int = 600,
    ):
        self._sessions = sessions
        self._clock = clock
        self._secret = secret.encode()
        self._lifetime = timedelta(seconds=expiration_seconds)

    @property
    def logger(self) -> logging.Logger:
        return log

    def _hash(self, state: str) -> str:
        return hmac.new(self._secret, state.encode(), hashlib.sha256).hexdigest()

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with transaction(self._sessions) as session:
            await session.execute(
                sa.delete(SlackOAuthState).where(col(SlackOAuthState.expires_at) <= now)
            )
            session.add(
                SlackOAuthState(state_hash=self._hash(state), expires_at=now + self._lifetime)
            )
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state this store issued and that has not expired."""
        if not state or len(state) > 200:
            return False
        async with transaction(self._sessions) as session:
            result = await session.execute(
                sa.delete(SlackOAuthState).where(
                    col(SlackOAuthState.state_hash) == self._hash(state),
                    col(SlackOAuthState.expires_at) > self._clock.now(),
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


# --- bot tokens for the notifier --------------------------------------------------------------


class TokenSource(Protocol):
    async def bot_token(self, team_id: str) -> str:
        """The bot token to act in a workspace; raises ``NotInstalled``."""
        ...


class StaticTokens:
    """One workspace: the bot token from the settings."""

    def __init__(self, token: str):
        self._token = token

    async def bot_token(self, team_id: str) -> str:
        return self._token


class InstalledTokens:
    """Many workspaces: each workspace's latest bot installation; an expiring (rotating) token
    is refreshed and saved first."""

    def __init__(
        self,
        store: SqlInstallationStore,
        rotator: AsyncTokenRotator | None = None,
        *,
        minutes_before_expiration: int = 120,
    ):
        self._store = store
        self._rotator = rotator
        self._minutes = minutes_before_expiration

    async def bot_token(self, team_id: str) -> str:
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise NotInstalled(team_id)
        if bot.bot_refresh_token and self._rotator is not None:
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._minutes
            )
            if refreshed is not None:
                await self._store.async_save_bot(refreshed)
                return refreshed.bot_token
        return bot.bot_token
