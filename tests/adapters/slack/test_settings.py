"""The Slack settings: which combinations start the adapter, OAuth needs an encryption key,
keys and URLs are checked, and every error names its variable on one line."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}, ["slack"]),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}, ["slack"]),  # Socket Mode
        ({"slack_bot_token": "xoxb-1"}, []),  # no way for Slack to reach the bot
        ({"slack_signing_secret": "s"}, []),  # no token
        (
            {
                "slack_client_id": "1.2",
                "slack_client_secret": "c",
                "slack_signing_secret": "s",
                "slack_token_encryption_key": Fernet.generate_key().decode(),
            },
            ["slack"],
        ),
        (
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s", "discord_token": "d"},
            ["slack", "discord"],
        ),
    ],
)
def test_which_settings_start_slack(values, expected):
    assert load_settings(**values).chat_adapters == expected


def test_oauth_needs_an_encryption_key():
    with pytest.raises(ConfigError) as caught:
        load_settings(slack_client_id="1.2", slack_client_secret="c", slack_signing_secret="s")
    assert "SLACK_TOKEN_ENCRYPTION_KEY is required" in str(caught.value)


def test_bad_keys_and_urls_name_the_variable(monkeypatch):
    monkeypatch.setenv("SLACK_TOKEN_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("SLACK_TOKEN_ENCRYPTION_KEY: must be Fernet keys")
    assert "\n" not in str(caught.value)
    monkeypatch.delenv("SLACK_TOKEN_ENCRYPTION_KEY")
    monkeypatch.setenv("SLACK_API_URL", "slack.example")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("SLACK_API_URL: must be an http(s) URL")


def test_api_url_gets_its_slash_and_keys_may_rotate():
    two_keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    settings = load_settings(
        slack_api_url="https://slack-gov.com/api", slack_token_encryption_key=two_keys
    )
    assert settings.slack_api_url == "https://slack-gov.com/api/"
    assert settings.slack_scopes.split(",")[0] == "commands"


def test_the_manifest_matches_the_code():
    import yaml

    from bot.adapters.slack.app import EVENTS_PATH, REDIRECT_PATH
    from bot.adapters.slack.listeners.commands import COMMAND
    from bot.config import DEFAULT_SLACK_SCOPES
    from tests.adapters.test_console import ROOT

    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yml").read_text())
    assert manifest["oauth_config"]["scopes"]["bot"] == DEFAULT_SLACK_SCOPES.split(",")
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND and command["url"].endswith(EVENTS_PATH)
    assert command["should_escape"] is True  # mentions arrive as <@U…> for stats @member
    settings = manifest["settings"]
    assert settings["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
    }
    assert settings["socket_mode_enabled"] is False
    assert manifest["oauth_config"]["redirect_urls"][0].endswith(REDIRECT_PATH)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
