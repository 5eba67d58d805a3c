"""The naming check: a sentence that only names topics is not evidence of a claim.

Unit cases for :mod:`bot.grading.naming`, then the check inside the LLM grader: a naming
sentence quoted for two points loses both; quoted for a point whose content is a list of
examples, it keeps it; a telegraphic sentence that states something keeps its credit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage
from bot.grading.base import GradingItem
from bot.grading.llm import LLMGrader, is_item_list
from bot.grading.naming import asserts_something, names_without_asserting
from tests.fakes.openai_server import FakeOpenAI, HonestJudge


@pytest.mark.parametrize(
    "sentence",
    [
        "Dropout randomly zeroes activations with probability p during training.",
        "ReLU is cheap because it is a threshold at zero.",
        "Clipping the norm stops exploding gradients.",
        "LLaMA, PaLM and many later LLMs use SwiGLU.",
        "Measure recall@k, MRR and nDCG on a held-out query set.",
        "It prevents co-adaptation between units.",
        "Pooling summarises each window by one number.",
        "Softmax of [1, 2, 3] is [0.09, 0.24, 0.67].",
        "Quality and diversity of the examples matter more than their number.",
    ],
)
def test_sentences_that_state_something_assert(sentence: str) -> None:
    assert asserts_something(sentence)
    assert not names_without_asserting(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Key ideas: co-adaptation, regularisation, ensembles of thinned networks and rescaling.",
        "Think co-adaptation between units, regularisation and inverted dropout.",
        "Vanishing gradients matter, exploding gradients matter, and so do gated cells.",
        "Softmax saturation and tiny gradients are both part of the story here.",
        "It all comes down to variance, softmax saturation, tiny gradients and head size.",
        "Co-adaptation between units is relevant here.",
        "Temporal leakage, preprocessing leakage, target leakage and benchmark contamination.",
    ],
)
def test_sentences_that_only_name_topics_do_not(sentence: str) -> None:
    assert names_without_asserting(sentence)


def test_a_header_that_is_itself_a_clause_is_kept() -> None:
    # "It was a vague request:" asserts; what follows the colon explains it
    assert not names_without_asserting("It was a vague request: no target and no data owner.")


def test_item_lists_are_told_from_claims() -> None:
    assert is_item_list("Examples include BERT, GPT and T5")
    assert is_item_list("Regularisers: dropout, weight decay, early stopping")
    assert not is_item_list("A saturated softmax has tiny gradients, so training slows or stalls")


ITEM = GradingItem(
    question_id="dropout-test",
    prompt="What does dropout do, and why does it help?",
    reference=(
        "Dropout zeroes each activation with probability p during training. This prevents "
        "units from co-adapting. Common regularisers besides it are weight decay, early "
        "stopping and data augmentation."
    ),
    key_points=(
        KeyPoint(
            text="Dropout zeroes each activation with probability p during training", weight=1
        ),
        KeyPoint(text="It prevents units from co-adapting", weight=1),
        KeyPoint(
            text="Other regularisers: weight decay, early stopping, data augmentation", weight=1
        ),
    ),
)


@pytest_asyncio.fixture
async def grader() -> AsyncIterator[LLMGrader]:
    async with FakeOpenAI(HonestJudge()) as server:
        yield LLMGrader(server.client(), "gpt-test", timeout=5, max_tokens=600)


async def test_a_naming_sentence_quoted_for_two_claims_earns_neither(grader: LLMGrader) -> None:
    answer = (
        "Dropout is a regulariser. Key ideas: zeroing each activation with probability p "
        "during training, and units co-adapting."
    )
    grade = await grader.grade(ITEM, answer)
    assert [v.status for v in grade.verdicts[:2]] == [Coverage.MISSING, Coverage.MISSING]
    assert all("Naming the terms" in v.hint for v in grade.verdicts[:2])


async def test_naming_the_items_of_a_list_point_makes_it(grader: LLMGrader) -> None:
    answer = (
        "During training dropout zeroes each activation with probability p, which prevents "
        "units from co-adapting. Other regularisers: weight decay, early stopping, data "
        "augmentation."
    )
    grade = await grader.grade(ITEM, answer)
    assert [v.status for v in grade.verdicts] == [Coverage.COVERED] * 3
