"""The configuration object: defaults, normalised URLs, one-line errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_DATABASE_URL,
    SOURCE_TREE_QUESTIONS,
    ConfigError,
    Settings,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "DATABASE_URL",
        "DEFAULT_TIMEZONE",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DISCORD_TOKEN",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_setup():
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.openai_api_key is None and settings.chat_adapters == []


def test_plain_urls_get_the_async_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/bot")
    assert load_settings().database_url == "postgresql+asyncpg://u@db:5432/bot"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    assert load_settings().database_url == "sqlite+aiosqlite:///x.db"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: must be a sqlite:/// or postgresql:// URL"),
        ("GRADING_CONCURRENCY", "0", "GRADING_CONCURRENCY:"),
        ("DEFAULT_POST_TIME", "9am", "DEFAULT_POST_TIME: '9am' is not a time of day"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_chat_adapters_follow_the_tokens(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("DISCORD_TOKEN", "d")
    assert load_settings().chat_adapters == ["slack", "discord"]


def test_secrets_do_not_show_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    assert "sk-very-secret" not in repr(load_settings())


def test_the_bank_cache_lives_in_the_user_cache_folder_and_an_empty_value_turns_it_off(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("BANK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_settings().bank_cache_dir == tmp_path / "xdg" / "interview-bot"
    monkeypatch.setenv("BANK_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert load_settings().bank_cache_dir == tmp_path / "elsewhere"
    monkeypatch.setenv("BANK_CACHE_DIR", "")
    assert load_settings().bank_cache_dir is None


def test_the_bank_is_found_from_any_working_directory(tmp_path, monkeypatch):
    """Started outside the project folder, the bot uses its checkout's bank; a ./questions folder
    in the working directory (the Docker image's layout) wins over it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUESTIONS_DIR", raising=False)
    assert Settings(_env_file=None).questions_dir == SOURCE_TREE_QUESTIONS
    (tmp_path / "questions").mkdir()
    assert Settings(_env_file=None).questions_dir == Path("questions")


def test_a_check_across_variables_is_one_line_naming_them_once(monkeypatch):
    monkeypatch.setenv("SLACK_CLIENT_ID", "1.2")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "secret")
    monkeypatch.delenv("SLACK_TOKEN_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("SLACK_TOKEN_ENCRYPTION_KEY is required")
    assert "configuration" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_default_interview_longer_than_the_maximum_is_refused(monkeypatch):
    monkeypatch.setenv("MOCK_DEFAULT_LENGTH", "15")
    monkeypatch.setenv("MOCK_MAX_LENGTH", "10")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("MOCK_DEFAULT_LENGTH: 15 is more than MOCK_MAX_LENGTH (10)")
    monkeypatch.setenv("MOCK_DEFAULT_LENGTH", "10")
    assert load_settings().mock_default_length == 10


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("europe/berlin", "Europe/Berlin"), ("AMERICA/NEW_YORK", "America/New_York"), ("utc", "UTC")],
)
def test_a_time_zone_in_other_capitals_is_taken_in_its_own(typed, stored):
    from bot.config import validate_timezone

    assert validate_timezone(typed) == stored


@pytest.mark.parametrize("typed", ["europe", "mars/olympus", "Europe/Berlinn"])
def test_a_time_zone_unknown_in_any_capitals_is_still_refused(typed):
    from bot.config import validate_timezone

    with pytest.raises(ValueError, match="unknown time zone"):
        validate_timezone(typed)
