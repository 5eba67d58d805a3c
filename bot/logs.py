"""Logging: one JSON object per line in server mode (time, level, logger, message, and the ids a
record carries), readable lines in the terminal; secrets never printed.

A ``RedactingFilter`` replaces every secret the settings hold (API keys, tokens, the database
password) and anything shaped like a chat or API token with ``[redacted]``, in the message, its
arguments and any exception text. Member-written text is kept out of log calls by the code
itself (only ids and error classes are logged).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import SecretStr

from bot.config import Settings

REDACTED = "[redacted]"
#: Shapes of credentials worth hiding even when they are not ours.
TOKEN_SHAPES = re.compile(
    r"\b(?:xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}|sk-[A-Za-z0-9_-]{16,}"
    r"|[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,})\b"
)
#: Extra fields a record may carry (``log.info(..., extra={"answer_id": 3})``).
CONTEXT_FIELDS = ("answer_id", "post_id", "outbox_id", "workspace", "platform", "request_id")


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value the settings hold (and the database password)."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            values.append(value.get_secret_value())
    password = re.search(r"://[^:/@]+:([^@]+)@", settings.database_url)
    if password:
        values.append(password.group(1))
    return [value for value in values if len(value) >= 4]


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPES.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


NOISY = (
    "httpx",
    "httpx2",
    "openai",
    "apscheduler",
    "aiosqlite",
    "asyncio",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "aiohttp.access",
)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # the base class assigns it once; ignore
        pass


def configure_logging(settings: Settings, *, interactive: bool) -> None:
    """JSON lines on stderr for the server; quiet, readable lines for the terminal."""
    level = getattr(logging, settings.log_level)
    if interactive and settings.log_level != "DEBUG":
        level = max(level, logging.WARNING)  # keep the practice screen clean
    handler = StderrHandler()
    handler.addFilter(RedactingFilter(settings_secrets(settings)))
    if interactive:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
