"""Correct answers keep their points when the judge quotes them the way language models do.

68 correct answers to bank questions (``correct_answers.yaml``, test subset) are graded by the
real LLM grader, through the real ``openai`` client, against a loopback judge that is honest --
every key point covered, quoting the sentence that makes it -- but quotes in one style: exact,
with case and punctuation slips, with an ellipsis, with small words dropped, merged with the next
sentence, with two or three words swapped for synonyms, or as a short fragment. Against exact
quotes, no style may cost more than 3 points on average; with re-quoting switched off (the quote
locator alone) neither.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.openai_server import QUOTE_STYLES
from tests.grading.quote_fairness import StyleResult, fairness_table, load_correct_answers

MAX_MEAN_LOSS = 3.0


@pytest.fixture(scope="module")
def answers() -> list:
    loaded = load_correct_answers("test")
    assert len(loaded) >= 60
    return loaded


@pytest.fixture(scope="module")
def with_requote(answers: list) -> dict[str, StyleResult]:
    return asyncio.run(fairness_table(answers))


@pytest.fixture(scope="module")
def locator_alone(answers: list) -> dict[str, StyleResult]:
    return asyncio.run(fairness_table(answers, requote=False))


def test_exact_quotes_of_correct_answers_score_close_to_full_marks(
    with_requote: dict[str, StyleResult],
) -> None:
    exact = with_requote["exact"]
    assert exact.mean >= 97.0
    assert exact.below(75) == 0


@pytest.mark.parametrize("style", [s for s in QUOTE_STYLES if s != "exact"])
def test_no_quoting_style_costs_more_than_three_points(
    style: str, with_requote: dict[str, StyleResult]
) -> None:
    result = with_requote[style]
    assert with_requote["exact"].mean - result.mean <= MAX_MEAN_LOSS, result.mean
    assert result.below(75) <= 1


@pytest.mark.parametrize("style", [s for s in QUOTE_STYLES if s != "exact"])
def test_the_quote_locator_alone_is_tolerant(
    style: str, locator_alone: dict[str, StyleResult]
) -> None:
    result = locator_alone[style]
    assert locator_alone["exact"].mean - result.mean <= MAX_MEAN_LOSS, result.mean


def test_no_correct_answer_is_flagged(with_requote: dict[str, StyleResult]) -> None:
    for result in with_requote.values():
        assert all(grade.flags in ((), ("evidence-rejected",)) for grade in result.grades)
        assert not any("injection-suspected" in grade.flags for grade in result.grades)
