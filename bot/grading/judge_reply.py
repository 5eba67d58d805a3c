"""The judge's reply: its pydantic model, the parser, and the JSON schema derived from the model.

The schema sent as ``response_format`` is generated from :class:`JudgeReply` (so the two can
never disagree) and adapted to OpenAI's strict structured outputs: every object closed
(``additionalProperties: false``) with every property required, references inlined, and the
keywords strict mode or smaller OpenAI-compatible servers reject (defaults, titles, numeric
bounds) dropped -- the parser still enforces them.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class KeyPointJudgement(_Lenient):
    index: int = Field(ge=0)
    status: Literal["covered", "partial", "missing"]
    evidence: str = ""
    hint: str = ""


class FactualErrorJudgement(_Lenient):
    quote: str
    correction: str


class JudgeReply(_Lenient):
    key_points: list[KeyPointJudgement]
    factual_errors: list[FactualErrorJudgement] = Field(default_factory=list)
    feedback: str = ""


class InvalidJudgeReply(ValueError):
    """The judge's reply is not JSON, or not the expected shape."""


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


def parse_judge_reply(content: str | None, count: int) -> JudgeReply:
    """Parse and validate a reply; exactly one judgement per key point index 0..count-1."""
    if not content or not content.strip():
        raise InvalidJudgeReply("the reply was empty")
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJudgeReply(f"the reply is not valid JSON: {exc}") from exc
    try:
        reply = JudgeReply.model_validate(data)
    except ValidationError as exc:
        raise InvalidJudgeReply(f"the reply does not match the schema: {exc}") from exc
    indices = [judgement.index for judgement in reply.key_points]
    if sorted(indices) == list(range(1, count + 1)):  # numbered from 1: accept and shift
        for judgement in reply.key_points:
            judgement.index -= 1
        indices = [index - 1 for index in indices]
    if sorted(indices) != list(range(count)):
        raise InvalidJudgeReply(
            f"expected exactly one key_points entry for each index 0..{count - 1}, got {indices}"
        )
    reply.key_points.sort(key=lambda judgement: judgement.index)
    return reply


# --- the strict schema ------------------------------------------------------------------------

#: Keywords removed from the generated schema (see the module docstring).
_DROPPED_KEYWORDS = frozenset(
    {"default", "title", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
)


def _strict(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _strict(copy.deepcopy(definitions[name]), definitions)
    out = {
        key: _strict(value, definitions)
        for key, value in node.items()
        if key not in _DROPPED_KEYWORDS and key != "$defs"
    }
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model.model_json_schema()`` adapted to OpenAI strict mode (see the module docstring)."""
    schema = model.model_json_schema()
    return _strict(schema, schema.get("$defs", {}))


def judge_json_schema(name: str = "rubric_grade") -> dict[str, Any]:
    """The ``json_schema`` part of the judge's ``response_format`` (built once: every request
    sends it)."""
    return {"name": name, "strict": True, "schema": copy.deepcopy(_judge_schema())}


@functools.cache
def _judge_schema() -> dict[str, Any]:
    return strict_json_schema(JudgeReply)
