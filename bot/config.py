"""The one typed configuration object, read from the environment and `.env` (see .env.example)."""

from __future__ import annotations

import os
from datetime import time
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.schedule import parse_time_of_day

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/interview-bot.db"
#: The bot scopes the Slack app asks for (slack/manifest.yml lists the same).
DEFAULT_SLACK_SCOPES = "commands,chat:write,chat:write.public,users:read,im:write,files:write"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/interview-bot``, else ``~/.cache/interview-bot``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "interview-bot"


#: The bank shipped in a checkout: ``questions/`` beside the package.
SOURCE_TREE_QUESTIONS = Path(__file__).resolve().parents[1] / "questions"


def default_questions_dir() -> Path:
    """``questions/`` in the working directory (the Docker image, a project folder), else the
    checkout's own bank, so the bot finds its questions wherever it is started from."""
    here = Path("questions")
    if not here.is_dir() and SOURCE_TREE_QUESTIONS.is_dir():
        return SOURCE_TREE_QUESTIONS
    return here


@lru_cache(maxsize=1)
def _zone_names_by_lower_case() -> dict[str, str]:
    """Every IANA name zoneinfo knows, keyed by its lower-case spelling."""
    return {zone.lower(): zone for zone in available_timezones()}


def validate_timezone(name: str) -> str:
    """Return the IANA name if zoneinfo knows it, in its own capitals ("europe/berlin" is
    Europe/Berlin); raise ValueError naming it otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        canonical = _zone_names_by_lower_case().get(name.strip().lower())
        if canonical is not None:
            return canonical
        # OSError: a folder of the database ("Europe": IsADirectoryError), a name too long for
        # a file name
        shown = name if len(name) <= 60 else name[:59] + "…"
        raise ValueError(
            f"unknown time zone '{shown}' (use an IANA name such as Europe/Berlin)"
        ) from exc
    return name


class Settings(BaseSettings):
    """Everything the bot reads from its environment. Each field is documented in .env.example."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    questions_dir: Path = Field(default_factory=default_questions_dir)
    custom_questions_dir: Path | None = None
    #: Where parsed bank files are cached by content (bot.domain.bank_cache); empty: no cache.
    bank_cache_dir: Path | None = Field(default_factory=default_cache_dir)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    grading_model: str = "gpt-4o-mini"
    grading_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    grading_max_tokens: int = Field(default=900, ge=100, le=8000)
    grading_concurrency: int = Field(default=4, ge=1, le=64)
    grading_max_attempts: int = Field(default=4, ge=1, le=10)
    #: False: this process never grades (a web replica); another replica with it on grades the
    #: answers this one stores, and the outbox brings the results back through this one.
    grading_worker: bool = True
    #: True: the offline grader runs in a child process (a core of its own, the event loop never
    #: waits for it); False: in a thread of the bot's process (less memory). The terminal
    #: practice uses a thread unless this is set explicitly.
    grading_process: bool = True
    #: Reasoning models (o1/o3/o4, gpt-5...): how hard to think, and the extra completion tokens
    #: they may spend on hidden reasoning on top of GRADING_MAX_TOKENS.
    grading_reasoning_effort: (
        Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None
    ) = None
    grading_max_reasoning_tokens: int = Field(default=4000, ge=0, le=100_000)
    llm_practice_per_hour: int = Field(default=30, ge=0, le=10_000)
    llm_daily_token_budget: int = Field(default=0, ge=0)
    llm_price_input_per_mtok: float = Field(default=0.15, ge=0)
    llm_price_output_per_mtok: float = Field(default=0.60, ge=0)

    default_timezone: str = "UTC"
    default_post_time: time = time(9, 0)
    default_answer_window_minutes: int = Field(default=23 * 60, ge=5, le=7 * 24 * 60)
    nudge_hours_before_close: float = Field(default=2.0, gt=0, le=7 * 24)

    mock_default_length: int = Field(default=5, ge=1, le=20)
    mock_max_length: int = Field(default=10, ge=1, le=20)
    mock_idle_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)

    # --- Slack (bot/adapters/slack; documented in .env.example and the README's "Slack") ---
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_port: int = Field(default=3000, ge=1, le=65535)
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_state_secret: SecretStr | None = None
    slack_scopes: str = DEFAULT_SLACK_SCOPES
    slack_api_url: str | None = None
    slack_token_encryption_key: SecretStr | None = None
    # --- end of Slack ---

    #: The bot's HTTP server in server mode (health, metrics, Slack events); SLACK_PORT when unset.
    http_port: int | None = Field(default=None, ge=1, le=65535)
    # --- Discord (bot/adapters/discord) -----------------------------------------------------
    discord_token: SecretStr | None = None
    #: REST base URL (a proxy in front of https://discord.com/api/v10; the tests' fake).
    discord_api_url: str | None = None
    #: Gateway URL (a gateway proxy, the tests' fake); otherwise Discord's own.
    discord_gateway_url: str | None = None
    #: A guild whose copy of the commands is synced at start (instant, for development).
    discord_dev_guild_id: int | None = None
    #: None: one connection; an integer: that many shards; "auto": Discord's recommendation.
    discord_shards: int | Literal["auto"] | None = None
    # --- end of Discord ----------------------------------------------------------------------

    log_level: str = "INFO"

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _shards(cls, value: object) -> object:
        """An integer of at least 1, or "auto"; empty means one connection (no sharding)."""
        if isinstance(value, str):
            value = value.strip().lower()
            if value in {"", "none", "off"}:
                return None
            if value == "auto":
                return "auto"
            if not value.isdigit():
                raise ValueError("must be a number of shards or auto")
            value = int(value)
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 (or auto)")
        return value

    @field_validator("discord_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL ending in /api/v10")
        return value.strip().rstrip("/")

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss:// URL")
        return value.strip()

    @field_validator("bank_cache_dir", mode="before")
    @classmethod
    def _no_cache(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("default_post_time", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_time_of_day(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the plain forms people paste and pick the async driver for them."""
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            return "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    # --- Slack validation ---

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str | None) -> str | None:
        """The Web API base URL always ends with a slash (slack_sdk joins method names to it)."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_token_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        """One Fernet key, or several separated by commas (the first encrypts; all decrypt)."""
        if value is None or not value.get_secret_value().strip():
            return None
        from cryptography.fernet import Fernet

        for key in value.get_secret_value().split(","):
            try:
                Fernet(key.strip())
            except ValueError:
                raise ValueError(
                    "must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated; "
                    "make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                ) from None
        return value

    @model_validator(mode="after")
    def _mock_default_within_the_maximum(self) -> Settings:
        if self.mock_default_length > self.mock_max_length:
            raise ValueError(
                f"MOCK_DEFAULT_LENGTH: {self.mock_default_length} is more than MOCK_MAX_LENGTH "
                f"({self.mock_max_length}), so every interview without a length would be refused"
            )
        return self

    @model_validator(mode="after")
    def _slack_oauth_needs_a_key(self) -> Settings:
        if self.slack_oauth and self.slack_token_encryption_key is None:
            raise ValueError(
                "SLACK_TOKEN_ENCRYPTION_KEY is required with SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET: installation tokens are stored encrypted"
            )
        return self

    @property
    def slack_oauth(self) -> bool:
        """Many workspaces: Slack's OAuth install flow, tokens in the database."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def slack_configured(self) -> bool:
        """A bot token (one workspace) or OAuth credentials (many), plus the signing secret
        for HTTP mode or the app-level token for Socket Mode."""
        has_tokens = self.slack_bot_token is not None or self.slack_oauth
        reachable = self.slack_signing_secret is not None or self.slack_socket_mode
        return has_tokens and reachable

    # --- end of Slack validation ---

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def effective_http_port(self) -> int:
        return self.http_port or self.slack_port

    @cached_property
    def chat_adapters(self) -> list[str]:
        """The chat platforms whose tokens are configured."""
        adapters = []
        if self.slack_configured:
            adapters.append("slack")
        if self.discord_token:
            adapters.append("discord")
        return adapters


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line per variable."""


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one line per environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            # a check across variables names them in its message (the CLI says "configuration:")
            lines.append(f"{str(error['loc'][0]).upper()}: {message}" if error["loc"] else message)
        raise ConfigError("; ".join(lines)) from None
