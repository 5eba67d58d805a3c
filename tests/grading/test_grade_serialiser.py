"""One JSON form of a Grade (a pydantic TypeAdapter in bot.grading.base), used everywhere."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from bot.domain.rubric import Coverage, FactualError, KeyPointVerdict
from bot.grading import cache
from bot.grading.base import Grade, grade_from_dict, grade_to_dict

GRADE = Grade(
    score=55,
    verdicts=(
        KeyPointVerdict("Sigmoid saturates", Coverage.COVERED, "sigmoid saturates", ""),
        KeyPointVerdict("ReLU is cheap", Coverage.PARTIAL, "relu", "Say why."),
    ),
    feedback="Good start.",
    grader="llm",
    model="gpt-test",
    provisional=True,
    factual_errors=(FactualError("tanh is linear", "It is not."),),
    flags=("evidence-rejected",),
    prompt_tokens=120,
    completion_tokens=30,
    details={"relatedness": 0.5, "requoted": 1.0},
)


def test_a_grade_round_trips_through_json() -> None:
    data = grade_to_dict(GRADE)
    assert data["verdicts"][1] == {
        "key_point": "ReLU is cheap", "status": "partial", "evidence": "relu", "hint": "Say why."
    }  # fmt: skip
    assert grade_from_dict(json.loads(json.dumps(data))) == GRADE
    assert cache.grade_to_dict is grade_to_dict and cache.grade_from_dict is grade_from_dict


def test_missing_optional_fields_take_their_defaults() -> None:
    grade = grade_from_dict(
        {"score": 10, "grader": "offline", "verdicts": [{"key_point": "k", "status": "missing"}]}
    )
    assert grade.feedback == "" and grade.flags == () and grade.details == {}
    assert grade.verdicts == (KeyPointVerdict("k", Coverage.MISSING),)


@pytest.mark.parametrize(
    "bad",
    [
        {"score": 101, "grader": "x"},
        {"score": 50, "grader": "x", "verdicts": [{"key_point": "k", "status": "done"}]},
        {"score": 50},
    ],
)
def test_invalid_grades_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        grade_from_dict(bad)
