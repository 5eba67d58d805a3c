"""The mock interview's follow-up writer against the loopback OpenAI fake: its request parameters
follow the model like the grader's (reasoning models take max_completion_tokens and no
temperature, learnt from a 400 when the name does not tell), and a reply that would leak the
rubric becomes the generic follow-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.domain.bank import KeyPoint
from bot.grading.base import GradingItem, TransientGradingError
from bot.grading.followup import LLMFollowUpWriter, generic_follow_up
from tests.fakes.openai_server import Content, FakeOpenAI, HonestJudge, HTTPError

ITEM = GradingItem(
    prompt="Why do deep networks usually use ReLU rather than sigmoid in hidden layers?",
    reference="Sigmoid saturates so gradients vanish; ReLU has gradient one for positive inputs.",
    key_points=(
        KeyPoint(text="Sigmoid saturates so its gradient vanishes through many layers", weight=6),
        KeyPoint(text="ReLU has gradient one for positive inputs so gradients flow", weight=4),
    ),
)
MISSED = ITEM.key_points[:1]
QUESTION = "What happens to the gradient of a sigmoid unit when its input is very large?"


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(HonestJudge()) as fake:
        yield fake


async def test_a_reasoning_model_is_asked_with_max_completion_tokens(server: FakeOpenAI) -> None:
    server.reasoning_model = True
    server.script.append(Content(QUESTION))
    writer = LLMFollowUpWriter(server.client(), "o4-mini", reasoning_effort="low")
    assert await writer.write(ITEM, "ReLU is cheap.", MISSED) == QUESTION
    [body] = server.requests
    assert "max_tokens" not in body and "temperature" not in body
    assert body["max_completion_tokens"] > 200 and body["reasoning_effort"] == "low"


async def test_an_unrevealing_name_is_learnt_from_the_400s(server: FakeOpenAI) -> None:
    server.reasoning_model = True
    server.script.extend([Content(QUESTION), Content(QUESTION)])
    writer = LLMFollowUpWriter(server.client(), "interviewer-deployment")
    assert await writer.write(ITEM, "ReLU is cheap.", MISSED) == QUESTION
    sent = [{"max_tokens", "temperature"} & set(body) for body in server.requests]
    assert sent == [{"max_tokens", "temperature"}, {"temperature"}, set()]
    assert await writer.write(ITEM, "ReLU is cheap, really.", MISSED) == QUESTION
    assert len(server.requests) == 4  # learnt once


async def test_an_ordinary_model_keeps_max_tokens(server: FakeOpenAI) -> None:
    server.script.append(Content(QUESTION))
    writer = LLMFollowUpWriter(server.client(), "gpt-4o-mini")
    assert await writer.write(ITEM, "ReLU is cheap.", MISSED) == QUESTION
    [body] = server.requests
    assert body["max_tokens"] == 200 and body["temperature"] == 0


async def test_a_400_naming_nothing_it_can_change_is_a_transient_failure(
    server: FakeOpenAI,
) -> None:
    server.script.append(HTTPError(400, "Invalid request: messages too long", param="messages"))
    writer = LLMFollowUpWriter(server.client(), "gpt-4o-mini")
    with pytest.raises(TransientGradingError):
        await writer.write(ITEM, "ReLU is cheap.", MISSED)
    assert len(server.requests) == 1


async def test_a_reply_that_quotes_the_missed_point_becomes_the_generic_follow_up(
    server: FakeOpenAI,
) -> None:
    server.script.append(
        Content("Did you know sigmoid saturates so its gradient vanishes through many layers?")
    )
    writer = LLMFollowUpWriter(server.client(), "gpt-4o-mini")
    assert await writer.write(ITEM, "ReLU is cheap.", MISSED) == generic_follow_up(ITEM)
