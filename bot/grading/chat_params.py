"""Request parameters that differ between chat models, and learning them from the endpoint.

Reasoning models (the o1/o3/o4 and gpt-5 families) reject ``max_tokens`` and any temperature
other than the default: they take ``max_completion_tokens`` -- which also pays for their hidden
reasoning, so they get a larger allowance -- and optionally ``reasoning_effort``. The family is
recognised from the model name (also behind a provider prefix such as ``openai/o3-mini``); a
model the name does not reveal (an Azure deployment called ``grader``) is recognised from its
first HTTP 400, which names the parameter it rejects, and the adjustment is remembered for every
later request of the grader.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import openai

_REASONING_MODEL = re.compile(r"(?:^|[/:])(?:o\d+|gpt-5)(?:$|[-_.:@ ])", re.IGNORECASE)
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def is_reasoning_model(model: str) -> bool:
    """Whether the model name belongs to a family that takes ``max_completion_tokens``."""
    return bool(_REASONING_MODEL.search(model.strip()))


def _error_text(exc: openai.BadRequestError) -> str:
    body = json.dumps(exc.body, default=str) if exc.body else ""
    return f"{exc.message} {body}".casefold()


@dataclass
class ChatParameters:
    """The sampling and length parameters of one grader's requests; adjusts itself on a 400."""

    model: str
    max_tokens: int
    reasoning_effort: str | None = None
    #: Extra completion tokens a reasoning model may spend on its hidden reasoning.
    max_reasoning_tokens: int = 4000

    def __post_init__(self) -> None:
        reasoning = is_reasoning_model(self.model)
        self.completion_tokens_parameter = reasoning
        self.send_temperature = not reasoning
        self.send_reasoning_effort = self.reasoning_effort is not None
        self.learned: list[str] = []

    def as_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.completion_tokens_parameter:
            kwargs["max_completion_tokens"] = self.max_tokens + self.max_reasoning_tokens
        else:
            kwargs["max_tokens"] = self.max_tokens
        if self.send_temperature:
            kwargs["temperature"] = 0
        if self.send_reasoning_effort and self.reasoning_effort:
            kwargs["reasoning_effort"] = self.reasoning_effort
        return kwargs

    def adjust_to(self, exc: openai.BadRequestError) -> bool:
        """Change what the 400 complains about; ``False`` when it names nothing we can change."""
        text = _error_text(exc)
        tokens_toggled = any("tokens" in item for item in self.learned)
        if self.completion_tokens_parameter and "max_completion_tokens" in text:
            if not tokens_toggled:
                self.completion_tokens_parameter = False
                self.learned.append("max_tokens")
                return True
        elif not self.completion_tokens_parameter and "max_tokens" in text and not tokens_toggled:
            self.completion_tokens_parameter = True
            self.learned.append("max_completion_tokens")
            return True
        if "temperature" in text and self.send_temperature:
            self.send_temperature = False
            self.learned.append("no temperature")
            return True
        if "reasoning_effort" in text and self.send_reasoning_effort:
            self.send_reasoning_effort = False
            self.learned.append("no reasoning_effort")
            return True
        return False
