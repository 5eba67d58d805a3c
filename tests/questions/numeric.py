"""One set of helpers for the tests that recompute the numbers a bank reference states.

A numeric test finds its question by id (through the validated loader), recomputes the value from
first principles and checks that the reference (or prompt) states it, written the way the
references write numbers. A reference with a wrong number therefore fails its test.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions


def question(question_id: str) -> dict[str, Any]:
    """The shipped question as plain data; fails the test naming the id when it is missing."""
    questions = bank_questions()
    if question_id not in questions:
        pytest.fail(f"question {question_id!r} not found in {QUESTIONS_DIR}")
    return questions[question_id]


def normalise(text: str) -> str:
    """Collapse whitespace and write the typographic minus sign (U+2212) as an ASCII hyphen."""
    return " ".join(str(text).replace("\u2212", "-").split())


def reference(question_id: str) -> str:
    return normalise(question(question_id)["reference"])


def prompt(question_id: str) -> str:
    return normalise(question(question_id)["prompt"])


def assert_states(question_id: str, *expected: str, field: str = "reference") -> None:
    """Every expected string (normalised) occurs in the question's reference (or prompt)."""
    text = normalise(question(question_id)[field])
    for value in expected:
        assert normalise(value) in text, f"{question_id}: expected {value!r} in the {field}"


def numbers_in(text: str) -> list[float]:
    """Every number written in a text (thousands separators and a leading minus understood)."""
    found = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?", normalise(text))
    return [float(item.replace(",", "")) for item in found if item.strip(",")]


def assert_states_number(question_id: str, *values: float, rel: float = 5e-4) -> None:
    """Each value appears among the reference's numbers, within a relative tolerance."""
    stated = numbers_in(reference(question_id))
    for value in values:
        assert any(value == pytest.approx(number, rel=rel, abs=1e-12) for number in stated), (
            f"{question_id}: {value} is not stated in the reference (numbers: {stated[:40]})"
        )


def thousands(value: int) -> str:
    """An integer as the references write it: 1,050,624."""
    return f"{value:,}"


def fmt_list(values: Any, decimals: int | None = None) -> str:
    """A 1-D or 2-D array as the references write it: [1, 2] or [0.024, 0.064]."""
    array = np.asarray(values)
    if array.ndim > 1:
        return "[" + ", ".join(fmt_list(row, decimals) for row in array) + "]"
    if decimals is None:
        return "[" + ", ".join(str(int(v)) for v in array) + "]"
    return "[" + ", ".join(f"{v:.{decimals}f}" for v in array) + "]"


def softmax(logits: Any, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()
