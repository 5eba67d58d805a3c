"""The Discord settings: shards, URLs, the dev guild, and which adapters `run` starts."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN", "DISCORD_SHARDS"):
        monkeypatch.delenv(name, raising=False)


def test_shards_are_a_number_or_auto(monkeypatch):
    assert load_settings().discord_shards is None
    assert load_settings(discord_shards="auto").discord_shards == "auto"
    monkeypatch.setenv("DISCORD_SHARDS", "4")
    assert load_settings().discord_shards == 4
    monkeypatch.setenv("DISCORD_SHARDS", "")
    assert load_settings().discord_shards is None
    for wrong in ("0", "many"):
        monkeypatch.setenv("DISCORD_SHARDS", wrong)
        with pytest.raises(ConfigError, match=r"^DISCORD_SHARDS: "):
            load_settings()


def test_proxy_urls_are_checked_and_the_dev_guild_is_a_number(monkeypatch):
    settings = load_settings(
        discord_api_url="http://proxy:8080/api/v10/", discord_gateway_url="ws://proxy:8081/gw/"
    )
    assert settings.discord_api_url == "http://proxy:8080/api/v10"
    assert settings.discord_gateway_url == "ws://proxy:8081/gw/"  # its path is kept as given
    with pytest.raises(ConfigError, match=r"^DISCORD_API_URL: "):
        load_settings(discord_api_url="proxy:8080")
    with pytest.raises(ConfigError, match=r"^DISCORD_GATEWAY_URL: "):
        load_settings(discord_gateway_url="http://proxy:8081")
    monkeypatch.setenv("DISCORD_DEV_GUILD_ID", "123456789012345678")
    assert load_settings().discord_dev_guild_id == 123456789012345678


def test_the_token_turns_the_discord_adapter_on_beside_slack():
    assert load_settings().chat_adapters == []
    assert load_settings(discord_token="t").chat_adapters == ["discord"]
    both = load_settings(discord_token="t", slack_bot_token="x", slack_signing_secret="s")
    assert both.chat_adapters == ["slack", "discord"]
