"""Rubric properties the whole bank keeps, so a grader can credit correct answers in other words.

* One claim per key point: no semicolons, no second sentence, no two clauses with their own
  subject and verb joined by "and" or "but" (see ``rubric_checks.bundled_claims``).
* A key point stating a number a candidate may write another way (a fraction, a decimal below 1,
  scientific notation, a percentage, a byte size in GB or GiB) accepts an equivalent form.
* The "why" outweighs the mechanics: a key point that only repeats numbers from the prompt, or
  only states a value computed from a formula the prompt spells out, never carries the rubric's
  top weight.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.bank import Bank, load_bank
from tests.questions.rubric_checks import (
    bundled_claims,
    missing_alternatives,
    plugs_given_formula,
    restates_prompt_numbers,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank(ROOT / "questions")


def test_each_key_point_states_one_claim(bank: Bank) -> None:
    bundled = {
        f"{q.id}: {point.text}": reasons
        for q in bank.questions
        for point in q.key_points
        if (reasons := bundled_claims(point.text))
    }
    assert bundled == {}


def test_numbers_written_several_ways_have_accepted_forms(bank: Bank) -> None:
    missing = {
        f"{q.id}: {point.text}": numbers
        for q in bank.questions
        for point in q.key_points
        if (numbers := missing_alternatives(point.text, point.accept))
    }
    assert missing == {}


def test_mechanical_points_never_carry_the_top_weight(bank: Bank) -> None:
    heavy = []
    for q in bank.questions:
        top = max(point.weight for point in q.key_points)
        if all(point.weight == top for point in q.key_points):
            continue  # equal weights: nothing is ranked above anything
        for point in q.key_points:
            mechanical = restates_prompt_numbers(point.text, q.prompt) or plugs_given_formula(
                point.text, q.prompt
            )
            if mechanical and point.weight == top:
                heavy.append(f"{q.id}: {point.text}")
    assert heavy == []


@pytest.mark.parametrize(
    ("text", "bundled"),
    [
        ("Bias is the error from too simple assumptions; a high-bias model underfits", True),
        ("The mean is 5. The variance is 5", True),
        ("x has strides (3, 1) and x.t() has strides (1, 3)", True),
        ("ReLU does not saturate and is cheap to compute", False),
        ("Regularisation, more data and bagging reduce variance", False),
        ("float16 has only 5 exponent bits, so small gradients underflow to zero", False),
        ("GAP has no parameters and drastically shrinks the classifier head", False),
        ("Knowledge distillation trains a student on teacher and student outputs", False),
    ],
)
def test_the_clause_heuristic_on_examples(text: str, bundled: bool) -> None:
    assert bool(bundled_claims(text)) is bundled


@pytest.mark.parametrize(
    ("text", "accept", "missing"),
    [
        ("F1 is 8/11", (), ["8/11"]),
        ("F1 is 8/11", ("0.727",), []),
        ("The states take 24 GB", ("22.35 GiB",), []),
        ("The states take 24 GB", ("24 GB of state",), ["24 GB"]),
        ("The rate is 7.5e-5", ("0.000075",), []),
        ("Accuracy is 93%", ("0.93",), []),
        ("The layer has 3,152,384 parameters", (), []),
    ],
)
def test_the_alternative_number_check_on_examples(
    text: str, accept: tuple[str, ...], missing: list[str]
) -> None:
    assert missing_alternatives(text, accept) == missing


def test_the_mechanical_point_checks_on_examples() -> None:
    prompt = "Warm-up is lr = peak x step / 2000 with peak 3e-4. What is lr at step 500?"
    assert plugs_given_formula("At step 500 the rate is 7.5e-5", prompt)
    assert not plugs_given_formula("Progress is measured from the end of warm-up", prompt)
    assert restates_prompt_numbers("The peak is 3e-4", prompt)
    assert not restates_prompt_numbers("The output is [[6, 7], [8, 9]]", "input [[6, 7], [8, 9]]")
