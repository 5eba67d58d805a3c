"""What grading costs: token usage priced per million tokens, as providers quote it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prices:
    """Prices in any currency per million prompt (input) and completion (output) tokens."""

    input_per_million: float
    output_per_million: float

    def __post_init__(self) -> None:
        if self.input_per_million < 0 or self.output_per_million < 0:
            raise ValueError("prices cannot be negative")


def estimate_cost(prompt_tokens: int, completion_tokens: int, prices: Prices) -> float:
    """The cost of this many tokens at ``prices`` (same currency as the prices)."""
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError("token counts cannot be negative")
    return (
        prompt_tokens * prices.input_per_million + completion_tokens * prices.output_per_million
    ) / 1_000_000
