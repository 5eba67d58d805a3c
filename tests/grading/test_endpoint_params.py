"""Any OpenAI-compatible model: reasoning-model parameters, learnt from a 400 when the name does
not tell; the judge schema derived from the reply model; cost estimates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2  # type: ignore[import-not-found]  # openai 3.x's HTTP client
import openai
import pytest
import pytest_asyncio

from bot.domain.bank import KeyPoint
from bot.grading.base import GradingError, GradingItem
from bot.grading.chat_params import ChatParameters, is_reasoning_model
from bot.grading.judge_reply import JudgeReply, judge_json_schema, strict_json_schema
from bot.grading.llm import LLMGrader
from bot.grading.pricing import Prices, estimate_cost
from tests.fakes.openai_server import FakeOpenAI, HonestJudge, HTTPError

ITEM = GradingItem(
    prompt="Why do deep networks usually use ReLU rather than sigmoid in hidden layers?",
    reference="Sigmoid saturates so gradients vanish; ReLU has gradient one for positive inputs.",
    key_points=(
        KeyPoint(text="Sigmoid saturates so its gradient vanishes through many layers", weight=6),
        KeyPoint(text="ReLU has gradient one for positive inputs so gradients flow", weight=4),
    ),
)
ANSWER = (
    "Sigmoid saturates for large inputs, so its gradient vanishes through many layers. ReLU has"
    " a gradient of one for positive inputs, so gradients flow."
)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(HonestJudge()) as fake:
        yield fake


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o1-mini", True),
        ("o3-mini-2025-01-31", True),
        ("o4-mini", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("openai/o3", True),
        ("azure:gpt-5-nano", True),
        ("gpt-4o-mini", False),
        ("gpt-4.1", False),
        ("llama3.1:8b", False),
        ("qwen2.5:7b-instruct", False),
        ("solo-model", False),
        ("gpt-50-turbo", False),
    ],
)
def test_reasoning_models_are_recognised_by_name(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning


async def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature(
    server: FakeOpenAI,
) -> None:
    server.reasoning_model = True
    grader = LLMGrader(
        server.client(),
        "o3-mini",
        max_tokens=700,
        reasoning_effort="low",
        max_reasoning_tokens=3000,
    )
    grade = await grader.grade(ITEM, ANSWER)
    [body] = server.requests
    assert "max_tokens" not in body and "temperature" not in body
    assert body["max_completion_tokens"] == 3700
    assert body["reasoning_effort"] == "low"
    assert grade.score == 100


async def test_an_unrecognised_reasoning_model_is_learnt_from_its_400s_and_remembered(
    server: FakeOpenAI,
) -> None:
    server.reasoning_model = True
    grader = LLMGrader(server.client(), "our-grader-deployment", max_tokens=700)
    grade = await grader.grade(ITEM, ANSWER)
    assert grade.score == 100
    sent = [({"max_tokens", "temperature"} & set(body)) for body in server.requests]
    assert sent == [{"max_tokens", "temperature"}, {"temperature"}, set()]
    assert (
        server.requests[-1]["max_completion_tokens"] == 700 + grader.parameters.max_reasoning_tokens
    )
    await grader.grade(ITEM, ANSWER + " Again.")
    assert len(server.requests) == 4  # learnt once, no more rejected requests


async def test_an_ordinary_model_keeps_temperature_zero_and_max_tokens(server: FakeOpenAI) -> None:
    await LLMGrader(server.client(), "gpt-4o-mini", max_tokens=650).grade(ITEM, ANSWER)
    [body] = server.requests
    assert body["temperature"] == 0 and body["max_tokens"] == 650
    assert "max_completion_tokens" not in body and "reasoning_effort" not in body


async def test_an_unrelated_400_is_a_permanent_error_without_retries(server: FakeOpenAI) -> None:
    server.enqueue(HTTPError(400, "Invalid 'messages': too long", param="messages"))
    with pytest.raises(GradingError):
        await LLMGrader(server.client(), "gpt-4o-mini").grade(ITEM, ANSWER)
    assert len(server.requests) == 1


async def test_reasoning_effort_is_dropped_if_the_endpoint_rejects_it(server: FakeOpenAI) -> None:
    server.enqueue(HTTPError(400, "Unrecognized request argument supplied: reasoning_effort"))
    grader = LLMGrader(server.client(), "gpt-4o-mini", reasoning_effort="high")
    assert (await grader.grade(ITEM, ANSWER)).score == 100
    assert "reasoning_effort" in server.requests[0]
    assert "reasoning_effort" not in server.requests[1]


async def test_without_any_response_format_support_the_prompt_alone_asks_for_json(
    server: FakeOpenAI,
) -> None:
    rejection = HTTPError(400, "response_format is not supported by this server")
    server.enqueue(rejection, rejection)
    grader = LLMGrader(server.client(), "local-model")
    assert (await grader.grade(ITEM, ANSWER)).score == 100
    formats = [body.get("response_format", {}).get("type") for body in server.requests]
    assert formats == ["json_schema", "json_object", None]
    assert not grader.structured_outputs


def test_parameters_never_toggle_the_same_setting_twice() -> None:
    def bad_request(message: str) -> openai.BadRequestError:
        request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
        response = httpx2.Response(400, request=request)
        return openai.BadRequestError(message, response=response, body=None)

    parameters = ChatParameters("custom", 500)
    assert parameters.adjust_to(bad_request("max_tokens is not supported"))
    assert not parameters.adjust_to(bad_request("max_completion_tokens is too large"))
    assert parameters.as_kwargs()["max_completion_tokens"] == 4500


# --- the schema is derived from the reply model --------------------------------------------


def _object_nodes(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found.extend(_object_nodes(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_object_nodes(value))
    return found


def test_the_judge_schema_is_the_reply_model_in_strict_form() -> None:
    schema = judge_json_schema()
    assert schema["strict"] is True and schema["name"] == "rubric_grade"
    body = schema["schema"]
    assert list(body["properties"]) == list(JudgeReply.model_fields)
    assert "$defs" not in body and "$ref" not in str(body)
    for node in _object_nodes(body):
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
        assert "default" not in str(node) and "minimum" not in str(node)
    key_point = body["properties"]["key_points"]["items"]
    assert key_point["properties"]["status"]["enum"] == ["covered", "partial", "missing"]
    assert strict_json_schema(JudgeReply) == body


# --- cost -------------------------------------------------------------------------------------


def test_cost_is_priced_per_million_tokens() -> None:
    prices = Prices(input_per_million=0.15, output_per_million=0.60)
    assert estimate_cost(1_000_000, 0, prices) == pytest.approx(0.15)
    assert estimate_cost(2_000, 500, prices) == pytest.approx(0.0003 + 0.0003)
    assert estimate_cost(0, 0, prices) == 0
    with pytest.raises(ValueError):
        estimate_cost(-1, 0, prices)
    with pytest.raises(ValueError):
        Prices(input_per_million=-1, output_per_million=0)


def test_reasoning_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.config import ConfigError, load_settings

    monkeypatch.setenv("GRADING_REASONING_EFFORT", "low")
    monkeypatch.setenv("GRADING_MAX_REASONING_TOKENS", "2000")
    settings = load_settings(_env_file=None)
    assert settings.grading_reasoning_effort == "low"
    assert settings.grading_max_reasoning_tokens == 2000
    monkeypatch.setenv("GRADING_REASONING_EFFORT", "extreme")
    with pytest.raises(ConfigError, match="GRADING_REASONING_EFFORT"):
        load_settings(_env_file=None)
