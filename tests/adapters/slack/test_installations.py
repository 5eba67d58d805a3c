"""The installation and OAuth state stores on the project's tables: tokens encrypted at rest,
key rotation, latest-install lookups, deletes, a short cache, single-use expiring states, and the
notifier's per-workspace token with rotation of expiring tokens."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.adapters.slack.app import build_web_client
from bot.adapters.slack.installations import (
    InstalledTokens,
    NotInstalled,
    SqlInstallationStore,
    SqlOAuthStateStore,
    TokenSealer,
)
from bot.config import load_settings
from bot.storage.models import SlackInstallation, SlackOAuthState
from tests.fakes.slack_api import Team

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def installation(team: str = "T1", token: str = "xoxb-secret-1", user: str = "UINST", **extra):
    return Installation(
        app_id="A1", team_id=team, team_name=f"Team {team}", bot_token=token, bot_id="B1",
        bot_user_id="UBOT", bot_scopes="commands,chat:write", user_id=user, **extra,
    )  # fmt: skip


def store(sessions, clock, keys: str = KEY_A, ticker=None) -> SqlInstallationStore:
    return SqlInstallationStore(
        sessions, clock, client_id="C1D", sealer=TokenSealer(keys), monotonic=ticker or Ticker()
    )


async def rows(sessions):
    async with sessions() as session:
        return (await session.execute(sa.select(SlackInstallation))).scalars().all()


async def test_saved_tokens_are_encrypted_and_found_again(sessions, clock):
    installs = store(sessions, clock)
    await installs.async_save(installation())
    [row] = await rows(sessions)
    assert "xoxb-secret-1" not in row.sealed and row.team_id == "T1" and row.has_bot
    found = await installs.async_find_installation(enterprise_id=None, team_id="T1")
    assert found.bot_token == "xoxb-secret-1" and found.bot_scopes == ["commands", "chat:write"]
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot.bot_token == "xoxb-secret-1" and bot.bot_user_id == "UBOT"
    assert await installs.async_find_bot(enterprise_id=None, team_id="T2") is None

    # Bolt edits what it gets: the next lookup is unaffected
    found.bot_token = None
    again = await installs.async_find_installation(enterprise_id=None, team_id="T1")
    assert again.bot_token == "xoxb-secret-1"


async def test_key_rotation_and_a_wrong_key(sessions, clock):
    await store(sessions, clock, KEY_A).async_save(installation())
    rotated = store(sessions, clock, f"{KEY_B},{KEY_A}")
    assert (await rotated.async_find_bot(enterprise_id=None, team_id="T1")).bot_token
    await rotated.async_save(installation(token="xoxb-secret-2"))  # re-sealed with the new key
    [row] = await rows(sessions)
    assert Fernet(KEY_B).decrypt(row.sealed.encode())
    wrong = store(sessions, clock, Fernet.generate_key().decode())
    assert await wrong.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_a_reinstall_replaces_and_the_latest_bot_token_wins(sessions, clock):
    installs = store(sessions, clock)
    await installs.async_save(installation(user="U1", token="xoxb-old"))
    clock.advance(timedelta(minutes=1))
    await installs.async_save(installation(user="U2", token="xoxb-new"))
    clock.advance(timedelta(minutes=1))
    await installs.async_save(installation(user="U2", token="xoxb-newest"))
    assert len(await rows(sessions)) == 2  # one per installer
    mine = await installs.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert mine.user_id == "U1" and mine.bot_token == "xoxb-newest"
    latest = await installs.async_find_installation(enterprise_id=None, team_id="T1")
    assert latest.user_id == "U2"


async def test_deletes(sessions, clock):
    installs = store(sessions, clock)
    await installs.async_save(installation(team="T1"))
    await installs.async_save(installation(team="T2"))
    await installs.async_delete_bot(enterprise_id=None, team_id="T1")
    assert await installs.async_find_bot(enterprise_id=None, team_id="T1") is None
    await installs.async_delete_installation(enterprise_id=None, team_id="T2", user_id="UOTHER")
    assert await installs.async_find_bot(enterprise_id=None, team_id="T2") is not None
    await installs.async_delete_all(enterprise_id=None, team_id="T2")
    assert await rows(sessions) == []


async def test_lookups_are_cached_briefly_across_processes(sessions, clock):
    ticker = Ticker()
    here = store(sessions, clock, ticker=ticker)
    elsewhere = store(sessions, clock)  # another process on the same database
    await here.async_save(installation())
    assert await here.async_find_bot(enterprise_id=None, team_id="T1") is not None
    await elsewhere.async_delete_all(enterprise_id=None, team_id="T1")
    assert await here.async_find_bot(enterprise_id=None, team_id="T1") is not None
    ticker.now += 11
    assert await here.async_find_bot(enterprise_id=None, team_id="T1") is None


async def test_oauth_states_are_single_use_and_expire(sessions, clock):
    states = SqlOAuthStateStore(sessions, clock, secret="state-secret", expiration_seconds=600)
    state = await states.async_issue()
    async with sessions() as session:
        stored = (await session.execute(sa.select(SlackOAuthState.state_hash))).scalars().all()
    assert stored and state not in stored  # only a keyed hash is kept
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("made-up") is False
    late = await states.async_issue()
    clock.advance(timedelta(minutes=11))
    assert await states.async_consume(late) is False
    other_secret = SqlOAuthStateStore(sessions, clock, secret="another-secret")
    fresh = await states.async_issue()
    assert await other_secret.async_consume(fresh) is False


async def test_installed_tokens_rotate_an_expiring_token(sessions, clock, fake_slack):
    installs = store(sessions, clock)
    await installs.async_save(
        installation(
            token="xoxe.xoxb-expiring",
            bot_refresh_token="refresh-1",
            bot_token_expires_at=int(time.time()) + 60,
        )
    )
    fake_slack.expect_refresh("refresh-1", Team("T1", "Team One", "B1", "UBOT"), "xoxe.xoxb-fresh")
    client = build_web_client(load_settings(slack_api_url=fake_slack.api_url))
    from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

    tokens = InstalledTokens(
        installs, AsyncTokenRotator(client_id="C1D", client_secret="s", client=client)
    )
    assert await tokens.bot_token("T1") == "xoxe.xoxb-fresh"
    [refresh] = fake_slack.of("oauth.v2.access")
    assert refresh.data["grant_type"] == "refresh_token"
    assert await tokens.bot_token("T1") == "xoxe.xoxb-fresh"  # saved: no second rotation
    assert len(fake_slack.of("oauth.v2.access")) == 1
    with pytest.raises(NotInstalled):
        await tokens.bot_token("T404")
