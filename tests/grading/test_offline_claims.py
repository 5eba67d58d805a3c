"""The offline grader tells a key point from its opposite, reads numbers and formulas in any
notation, accepts a point's ``accept`` forms, declines LLM-only questions, and quotes the
sentence that makes the point."""

from __future__ import annotations

import numpy as np
import pytest

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage
from bot.grading.base import GradingItem, LLMRequiredError
from bot.grading.claims import find_quantities, same_quantity
from bot.grading.embeddings import StaticEmbedder, require_embedder
from bot.grading.notation import words
from bot.grading.offline import OfflineGrader, tokenize


@pytest.fixture(scope="module")
def grader() -> OfflineGrader:
    require_embedder()
    return OfflineGrader()


def _one(text: str):  # type: ignore[no-untyped-def]
    found = [q for q in find_quantities(text) if q.digits]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("11/12", "0.917"),
        ("1e-3", "0.001"),
        ("10^-3", "0.001"),
        ("2e-4", "0.0002"),
        ("16 GB", "16 GiB"),
        ("14.9 GiB", "16 GB"),
        ("50%", "0.5"),
        ("3,136", "3136"),
        ("7B", "7 billion"),
        ("sqrt(5) ≈ 2.2361", "2.24"),
    ],
)
def test_equal_quantities_in_other_forms_match(a: str, b: str) -> None:
    left = max(find_quantities(a), key=lambda q: (q.digits, q.end - q.start))
    right = max(find_quantities(b), key=lambda q: (q.digits, q.end - q.start))
    assert same_quantity(left, right)


@pytest.mark.parametrize(
    ("a", "b"), [("64", "8"), ("448", "432"), ("3.2", "0.003"), ("2e-4", "5e-5")]
)
def test_different_quantities_do_not_match(a: str, b: str) -> None:
    assert not same_quantity(_one(a), _one(b))


def test_exponents_and_model_names_are_not_quantities() -> None:
    assert [q for q in find_quantities("d_k^0.5 and d_k**(1/2), fp16, GPT-3, L2") if q.digits] == []


@pytest.mark.parametrize(
    "formula", ["sqrt(d_k)", "√dk", "√(d_k)", "d_k^0.5", "d_k**(1/2)", "the square root of d_k"]
)
def test_square_roots_in_any_notation_read_the_same(formula: str) -> None:
    assert [w for _, _, w in words(formula) if w != "the"] == ["sqrt", "dk"]
    for start, end, _ in words(formula):
        assert formula[start:end].strip()


def test_greek_letters_and_subscripts_become_words() -> None:
    assert [t.lower for t in tokenize("γ and β over d_{model}")] == [
        "gamma",
        "and",
        "beta",
        "over",
        "dmodel",
    ]


BATCH_ITEM = GradingItem(
    prompt="How does the batch size affect the noise of stochastic gradient estimates?",
    reference=(
        "A gradient estimated on a larger mini-batch averages more examples, so it has less noise: "
        "its variance falls roughly as one over the batch size."
    ),
    key_points=(
        KeyPoint(text="Larger batches give less gradient noise", weight=6),
        KeyPoint(text="The variance of the estimate falls as 1/B with batch size B", weight=4),
    ),
)


async def test_a_reversed_claim_is_not_covered(grader: OfflineGrader) -> None:
    right = await grader.grade(
        BATCH_ITEM,
        "With bigger batches the gradient is averaged over more samples, so its noise drops.",
    )
    wrong = await grader.grade(
        BATCH_ITEM, "With larger batches the gradient has more noise, because more samples add up."
    )
    assert right.verdicts[0].status is Coverage.COVERED
    assert wrong.verdicts[0].status is Coverage.MISSING
    assert wrong.factual_errors and "opposite" in wrong.verdicts[0].hint
    assert wrong.score < right.score - 30


SCALING_ITEM = GradingItem(
    prompt=(
        "Why are attention scores divided by sqrt(d_k)? With unit-variance components and "
        "d_k = 64, what are the variance and standard deviation of a dot product?"
    ),
    reference=(
        "The dot product sums d_k unit-variance products, so its variance is d_k and its standard "
        "deviation sqrt(d_k). For d_k = 64 the variance is 64 and the standard deviation is 8, "
        "so scores are divided by 8 to restore unit variance."
    ),
    key_points=(
        KeyPoint(text="For d_k = 64 the variance is 64 and the standard deviation is 8", weight=5),
        KeyPoint(text="Dividing by sqrt(d_k) restores unit variance", weight=5),
    ),
)


async def test_a_wrong_or_swapped_number_is_not_covered(grader: OfflineGrader) -> None:
    right = await grader.grade(
        SCALING_ITEM,
        "With 64 dimensions the dot product has a variance of 64 and a standard deviation of 8. "
        "Dividing the scores by d_k^0.5 restores unit variance.",
    )
    swapped = await grader.grade(
        SCALING_ITEM,
        "With 64 dimensions the dot product has a variance of 8 and a standard deviation of 64. "
        "Dividing the scores by d_k^0.5 restores unit variance.",
    )
    assert [v.status for v in right.verdicts] == [Coverage.COVERED, Coverage.COVERED]
    assert swapped.verdicts[0].status is Coverage.MISSING
    assert swapped.verdicts[1].status is Coverage.COVERED
    assert swapped.score < right.score - 40


PRUNING_ITEM = GradingItem(
    prompt="Compare unstructured and structured pruning.",
    reference=(
        "Unstructured pruning zeros individual weights anywhere in a matrix. Structured pruning "
        "removes whole channels, filters or heads, leaving smaller dense matrices."
    ),
    key_points=(
        KeyPoint(text="Unstructured pruning zeros individual weights anywhere", weight=5),
        KeyPoint(text="Structured pruning removes whole channels, filters or heads", weight=5),
    ),
)


async def test_swapped_roles_are_not_covered(grader: OfflineGrader) -> None:
    right = await grader.grade(
        PRUNING_ITEM,
        "Unstructured pruning sets single weights to zero wherever they are. Structured pruning "
        "removes entire channels, filters or attention heads.",
    )
    swapped = await grader.grade(
        PRUNING_ITEM,
        "Structured pruning sets single weights to zero wherever they are. Unstructured pruning "
        "removes entire channels, filters or attention heads.",
    )
    assert right.verdicts[0].status is Coverage.COVERED
    assert right.verdicts[1].status is not Coverage.MISSING
    assert all(v.status is Coverage.MISSING for v in swapped.verdicts)
    assert len(swapped.factual_errors) == 2
    assert swapped.score == 0 < right.score - 50


FUSION_POINT = "Static graphs allow whole-program optimisation such as operator fusion"


async def test_accept_forms_count_as_the_point(grader: OfflineGrader) -> None:
    answer = "Knowing the whole graph up front lets the compiler fuse kernels together."
    plain = GradingItem(
        prompt="What does a static computation graph allow?",
        reference="A static graph allows whole-program optimisation such as operator fusion.",
        key_points=(KeyPoint(text=FUSION_POINT, weight=10),),
    )
    with_accept = GradingItem(
        prompt=plain.prompt,
        reference=plain.reference,
        key_points=(
            KeyPoint(
                text=FUSION_POINT,
                weight=10,
                accept=("the compiler can fuse kernels because it sees the whole graph",),
            ),
        ),
    )
    assert (await grader.grade(plain, answer)).verdicts[0].status is not Coverage.COVERED
    accepted = await grader.grade(with_accept, answer)
    assert accepted.verdicts[0].status is Coverage.COVERED
    assert accepted.verdicts[0].evidence == answer


async def test_evidence_is_the_sentence_that_makes_the_point(grader: OfflineGrader) -> None:
    answer = (
        "Attention compares every query with every key. "
        "With 64 dimensions the dot product has a variance of 64 and a standard deviation of 8. "
        "Transformers use this in every layer. "
        "Dividing the scores by d_k^0.5 restores unit variance."
    )
    grade = await grader.grade(SCALING_ITEM, answer)
    assert grade.verdicts[0].evidence == (
        "With 64 dimensions the dot product has a variance of 64 and a standard deviation of 8."
    )
    assert grade.verdicts[1].evidence == "Dividing the scores by d_k^0.5 restores unit variance."


async def test_llm_only_questions_are_declined_with_a_readable_reason(
    grader: OfflineGrader,
) -> None:
    story = GradingItem(
        prompt="Tell me about a time you disagreed with a teammate about a model choice.",
        reference="A good answer names the situation, the action you took and the result.",
        key_points=(
            KeyPoint(text="Situation", weight=3),
            KeyPoint(text="Action", weight=4),
            KeyPoint(text="Result", weight=3),
        ),
        llm_only=True,
    )
    with pytest.raises(LLMRequiredError) as raised:
        await grader.grade(story, "We argued about XGBoost versus a transformer and I ran a test.")
    message = str(raised.value)
    assert "\n" not in message and 20 < len(message) < 200
    assert "AI grader" in message
    with pytest.raises(LLMRequiredError):
        grader.grade_sync(story, "anything")
    # the relatedness guard an LLM grader uses still works for such questions
    assert 0.0 <= grader.relatedness(story, "We argued about a model choice.") <= 1.0


def test_float16_table_gives_the_same_vectors_as_a_float32_copy() -> None:
    embedder = require_embedder()
    table = embedder._table
    assert table.dtype == np.float16
    upcast = StaticEmbedder(np.asarray(table, dtype=np.float32), embedder._tokenizer)
    for text in ("batch normalization", "The softmax saturates for large logits.", "x"):
        assert np.array_equal(upcast.embed([text]), embedder.embed([text]))


# --- names in the evidence, swapped pairings, coarse numbers, formula constants -------------

GELU_ITEM = GradingItem(
    prompt="What is GELU, how does it differ from ReLU, and why is it popular in transformers?",
    reference=(
        "GELU multiplies its input by the standard normal CDF of that input. It is smooth and "
        "lets small negative values through. BERT and GPT adopted it, and it is close to "
        "Swish/SiLU."
    ),
    key_points=(
        KeyPoint(text="GELU(x) = x · Φ(x), with Φ the standard normal CDF", weight=3),
        KeyPoint(text="BERT and GPT models adopted GELU", weight=1),
        KeyPoint(text="GELU is close to Swish/SiLU", weight=1),
    ),
)


async def test_a_point_with_a_name_needs_the_name_in_its_evidence(grader: OfflineGrader) -> None:
    without_names = await grader.grade(
        GELU_ITEM,
        "GELU weights each input by the probability that a standard normal variable is below it, "
        "x times Φ(x). It is smooth, close to other smooth gates, and popular in language models.",
    )
    named = await grader.grade(
        GELU_ITEM,
        "GELU computes x · Φ(x), Φ being the standard normal CDF. BERT and the GPT family use it. "
        "Its curve is almost the same as Swish, also called SiLU.",
    )
    assert without_names.verdicts[1].status is Coverage.MISSING
    assert without_names.verdicts[2].status is Coverage.MISSING
    assert named.verdicts[1].status is not Coverage.MISSING
    assert "BERT" in named.verdicts[1].evidence
    assert named.verdicts[2].status is Coverage.COVERED
    assert "Swish" in named.verdicts[2].evidence


async def test_an_acronym_spelled_out_shows_the_name(grader: OfflineGrader) -> None:
    item = GradingItem(
        prompt="How do you merge the rankings of a keyword search and a vector search?",
        reference="Reciprocal rank fusion sums 1 / (k + rank) over the lists a document is in.",
        key_points=(KeyPoint(text="RRF sums 1 / (k + rank) over the lists", weight=1),),
    )
    grade = await grader.grade(
        item, "Use reciprocal rank fusion: add up 1 / (k + rank) across the result lists."
    )
    assert grade.verdicts[0].status is Coverage.COVERED


MAP_ITEM = GradingItem(
    prompt="How do MLE and MAP estimation differ, and how do priors relate to regularisation?",
    reference=(
        "MAP adds a prior to the likelihood. A Gaussian prior gives an L2 penalty and a Laplace "
        "prior an L1 penalty."
    ),
    key_points=(
        KeyPoint(
            text="A Gaussian prior gives an L2 penalty and a Laplace prior an L1 penalty", weight=1
        ),
    ),
)


async def test_swapped_pairings_are_a_contradiction(grader: OfflineGrader) -> None:
    right = await grader.grade(
        MAP_ITEM,
        "A Gaussian prior on the weights turns into an L2 penalty, while a Laplace prior turns "
        "into an L1 penalty that makes weights sparse.",
    )
    swapped = await grader.grade(
        MAP_ITEM,
        "A Gaussian prior on the weights turns into an L1 penalty, while a Laplace prior turns "
        "into an L2 penalty that shrinks weights smoothly.",
    )
    assert right.verdicts[0].status is Coverage.COVERED
    assert swapped.verdicts[0].status is Coverage.MISSING
    assert swapped.factual_errors
    assert swapped.score < right.score - 50


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("0.971", "1", True),  # "about 1 bit"
        ("0.48", "0", False),  # a coarse 0 is not 0.48
        ("48%", "0.4", False),  # the percent reading keeps its own rounding
        ("48%", "0.48", True),
        ("2.3026", "2.3", True),
    ],
)
def test_a_coarse_number_stands_only_for_a_close_value(a: str, b: str, same: bool) -> None:
    assert same_quantity(_one(a), _one(b)) is same


@pytest.mark.parametrize("text", ["1/C", "1 − Σ p_k²", "max(0, p − q)", "min(1, p/q)", "x/2"])
def test_constants_of_a_formula_are_not_quantities(text: str) -> None:
    assert [q for q in find_quantities(text) if q.digits] == []


def test_a_bare_number_must_be_matched_as_written() -> None:
    assert not same_quantity(_one("42%"), _one("0.4"), strict=True)
    assert same_quantity(_one("42%"), _one("0.42"), strict=True)
