"""The environment for running ``python -m bot`` as a child process in a test: this process's
environment without any chat or LLM setting the developer may have exported, plus the test's."""

from __future__ import annotations

import os

#: Settings a developer's shell may hold that would point a test's bot at real services.
OUTSIDE_SETTINGS = ("SLACK_", "DISCORD_", "OPENAI_")


def bot_environment(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(OUTSIDE_SETTINGS)}
    env.update(settings)
    return env
