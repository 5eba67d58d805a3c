"""The offline grader on real text: rubric verdicts, reference-only scores, keyword stuffing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage
from bot.grading.base import Grader, GradingItem
from bot.grading.embeddings import get_embedder, require_embedder
from bot.grading.offline import (
    UNRELATED_THRESHOLD,
    OfflineGrader,
    split_sentences,
    stem,
    tokenize,
)

REFERENCE = (
    "Sigmoid saturates for large positive or negative inputs, so its gradient is close to zero "
    "there, and multiplying many such small derivatives makes the gradient vanish in the early "
    "layers of a deep network. ReLU has a gradient of exactly one for positive inputs, so "
    "gradients flow through many layers without shrinking. ReLU is also cheap to compute, a "
    "threshold at zero with no exponential. Its weakness is dying ReLU: units stuck in the "
    "negative region output zero and stop learning; leaky ReLU keeps a small slope there."
)
ITEM = GradingItem(
    prompt="Why do deep networks usually use ReLU rather than sigmoid in their hidden layers?",
    reference=REFERENCE,
    key_points=(
        KeyPoint(text="Sigmoid saturates so its gradient vanishes through many layers", weight=4),
        KeyPoint(text="ReLU has a gradient of one for positive inputs so gradients flow", weight=3),
        KeyPoint(text="ReLU is cheap to compute: a threshold at zero", weight=1),
        KeyPoint(text="Dying ReLU units output zero and stop learning; leaky ReLU helps", weight=2),
    ),
    question_id="activations-relu-vs-sigmoid",
)
REFERENCE_ONLY = GradingItem(prompt=ITEM.prompt, reference=REFERENCE)

PARAPHRASE = (
    "The sigmoid function flattens out at both ends, so its derivative becomes tiny and after "
    "backpropagating through many layers the gradient vanishes. With ReLU the derivative is one "
    "whenever the input is positive, so the gradient flows back without shrinking. It is also "
    "cheaper to compute because it is only a threshold at zero."
)
PARTIAL = (
    "Sigmoid saturates, so its gradient vanishes when it is propagated through many layers of a "
    "deep network. ReLU avoids this problem in practice."
)
KEYWORD_LIST = (
    "sigmoid saturates, gradient vanishes, many layers, ReLU gradient one, positive inputs, "
    "gradients flow, cheap threshold zero, dying ReLU, stop learning, leaky ReLU"
)
OFF_TOPIC = (
    "My favourite recipe is pasta with fresh tomatoes, garlic and basil. I cook it every Sunday "
    "for my family and we eat it in the garden when the weather is nice."
)


@pytest.fixture(scope="module")
def grader() -> OfflineGrader:
    require_embedder()  # loads the bundled model once for the module
    return OfflineGrader()


@pytest.mark.parametrize("item", [ITEM, REFERENCE_ONLY])
def test_relatedness_alone_is_what_the_full_analysis_measures(
    grader: OfflineGrader, item: GradingItem
) -> None:
    """The LLM grader asks only for relatedness; it must not differ from the full analysis."""
    for answer in (REFERENCE, PARAPHRASE, PARTIAL, KEYWORD_LIST, OFF_TOPIC, "", "  ?!  "):
        assert grader.relatedness(item, answer) == grader.analyse(item, answer).relatedness
    assert grader.relatedness(item, OFF_TOPIC) < grader.relatedness(item, PARAPHRASE)


def test_is_a_grader(grader: OfflineGrader) -> None:
    assert isinstance(grader, Grader)
    assert grader.name == "offline"


async def test_reference_scores_at_least_90_on_its_own_rubric(grader: OfflineGrader) -> None:
    grade = await grader.grade(ITEM, REFERENCE)
    assert grade.score >= 90
    assert all(v.status is Coverage.COVERED for v in grade.verdicts)
    assert grade.grader == "offline"
    assert grade.details["relatedness"] > 0.9


@pytest.mark.parametrize("blank", ["", "   ", "\n\t \n", "?!", "..."])
async def test_blank_answer_scores_zero(grader: OfflineGrader, blank: str) -> None:
    grade = await grader.grade(ITEM, blank)
    assert grade.score == 0
    assert all(v.status is Coverage.MISSING and not v.evidence for v in grade.verdicts)
    assert all(v.hint for v in grade.verdicts)
    assert (await grader.grade(REFERENCE_ONLY, blank)).score == 0


async def test_off_topic_answer_scores_near_zero_and_is_flagged(grader: OfflineGrader) -> None:
    grade = await grader.grade(ITEM, OFF_TOPIC)
    assert grade.score <= 5
    assert "unrelated" in grade.flags
    assert grader.relatedness(ITEM, OFF_TOPIC) < UNRELATED_THRESHOLD
    assert grader.is_unrelated(ITEM, OFF_TOPIC)
    assert not grader.is_unrelated(ITEM, PARAPHRASE)
    assert (await grader.grade(REFERENCE_ONLY, OFF_TOPIC)).score <= 5


async def test_bare_keyword_list_does_not_earn_full_marks(grader: OfflineGrader) -> None:
    listed = await grader.grade(ITEM, KEYWORD_LIST)
    explained = await grader.grade(ITEM, REFERENCE)
    assert listed.score <= 60
    assert listed.score < explained.score - 30
    assert "term-list" in listed.flags
    assert all(v.status is not Coverage.COVERED for v in listed.verdicts)
    assert "full sentences" in listed.feedback
    assert (await grader.grade(REFERENCE_ONLY, KEYWORD_LIST)).score <= 60


async def test_bulleted_keywords_are_a_term_list_too(grader: OfflineGrader) -> None:
    bullets = "\n".join(f"- {part.strip()}" for part in KEYWORD_LIST.split(","))
    grade = await grader.grade(ITEM, bullets)
    assert grade.score <= 60
    assert "term-list" in grade.flags


async def test_paraphrase_beats_unrelated(grader: OfflineGrader) -> None:
    paraphrase = await grader.grade(ITEM, PARAPHRASE)
    unrelated = await grader.grade(ITEM, OFF_TOPIC)
    assert paraphrase.score >= 50
    assert paraphrase.score > unrelated.score + 40
    statuses = [v.status for v in paraphrase.verdicts]
    assert statuses[0] is not Coverage.MISSING
    assert statuses[1] is not Coverage.MISSING


async def test_partial_answer_lands_in_between(grader: OfflineGrader) -> None:
    partial = await grader.grade(ITEM, PARTIAL)
    full = await grader.grade(ITEM, REFERENCE)
    unrelated = await grader.grade(ITEM, OFF_TOPIC)
    assert unrelated.score < partial.score < full.score
    assert 25 <= partial.score <= 70
    first, *rest = partial.verdicts
    assert first.status is Coverage.COVERED
    assert any(v.status is Coverage.MISSING for v in rest)
    assert "Still missing:" in partial.feedback and "You covered" in partial.feedback


async def test_reference_only_mode(grader: OfflineGrader) -> None:
    own = await grader.grade(REFERENCE_ONLY, REFERENCE)
    paraphrase = await grader.grade(REFERENCE_ONLY, PARAPHRASE)
    partial = await grader.grade(REFERENCE_ONLY, PARTIAL)
    unrelated = await grader.grade(REFERENCE_ONLY, OFF_TOPIC)
    assert own.score >= 90
    assert own.verdicts == ()
    assert paraphrase.score > partial.score > unrelated.score
    assert "similarity" in paraphrase.details and "coverage" not in paraphrase.details


async def test_evidence_quotes_are_substrings_of_the_answer(grader: OfflineGrader) -> None:
    long_answer = PARAPHRASE + " " + ("It also matters how weights are initialised. " * 8) + PARTIAL
    for answer in (REFERENCE, PARAPHRASE, PARTIAL, KEYWORD_LIST, long_answer):
        grade = await grader.grade(ITEM, answer)
        for verdict in grade.verdicts:
            if verdict.status is Coverage.MISSING:
                assert verdict.evidence == ""
                assert verdict.hint
            else:
                assert verdict.evidence
                assert verdict.evidence in answer
                assert len(verdict.evidence) <= 240


async def test_feedback_never_echoes_the_answer(grader: OfflineGrader) -> None:
    answer = PARTIAL + " Zanzibarquux told me so."
    grade = await grader.grade(ITEM, answer)
    assert "Zanzibarquux" not in grade.feedback
    assert "Dying ReLU" in grade.feedback  # a missing point is named
    assert len(grade.feedback) < 600


async def test_details_expose_similarity_and_coverage(grader: OfflineGrader) -> None:
    grade = await grader.grade(ITEM, PARAPHRASE)
    assert set(grade.details) >= {"similarity", "relatedness", "coverage", "prose"}
    assert all(0.0 <= grade.details[k] <= 1.0 for k in ("relatedness", "coverage", "prose"))
    assert grade.model == require_embedder().model_id


async def test_grading_runs_off_the_event_loop(
    grader: OfflineGrader, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = grader.grade_sync

    def spy(item: GradingItem, answer: str):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(item, answer)

    monkeypatch.setattr(grader, "grade_sync", spy)
    await grader.grade(ITEM, PARTIAL)
    assert seen and seen[0] != threading.main_thread().name


def test_model_loads_once_per_process_across_threads() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        embedders = list(pool.map(lambda _: get_embedder(), range(8)))
    assert embedders[0] is not None
    assert all(e is embedders[0] for e in embedders)


def test_lexical_fallback_without_embeddings() -> None:
    lexical = OfflineGrader(use_embeddings=False)
    assert lexical.grade_sync(ITEM, REFERENCE).score >= 90
    assert lexical.grade_sync(ITEM, "").score == 0
    assert lexical.grade_sync(ITEM, OFF_TOPIC).score <= 5
    assert lexical.grade_sync(ITEM, KEYWORD_LIST).score <= 60
    assert lexical.grade_sync(ITEM, REFERENCE).details["semantic"] == 0.0


def test_stemming_and_synonyms_normalise_word_forms() -> None:
    assert stem("gradients") == stem("gradient")
    assert stem("normalization") == stem("normalized") == stem("normalise") == stem("normalize")
    assert stem("computing") == stem("computed") == stem("compute")
    assert stem("probabilities") == stem("probability")
    assert stem("biases") == stem("bias")
    norms = [t.norm for t in tokenize("The grads shrink")]
    assert norms == ["", stem("gradient"), stem("decrease")]


def test_sentence_splitting_and_list_detection() -> None:
    text = "ReLU is cheap to compute.\n- sigmoid, tanh, softmax, gelu\nMerge 1: l + o -> lo (15)."
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "ReLU is cheap to compute.",
        "sigmoid, tanh, softmax, gelu",
        "Merge 1: l + o -> lo (15).",
    ]
    assert [s.list_like for s in sentences] == [False, True, False]
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text


async def test_answer_on_another_deep_learning_topic_scores_zero(grader: OfflineGrader) -> None:
    # related vocabulary (layers, training, networks) but none of this question's key points
    other_topic = (
        "Dropout randomly zeroes a fraction of activations during training so that units cannot "
        "co-adapt, and at inference time dropout is switched off and activations are rescaled."
    )
    grade = await grader.grade(ITEM, other_topic)
    assert all(v.status is Coverage.MISSING for v in grade.verdicts)
    assert grade.score == 0


async def test_hints_quote_where_the_reference_makes_the_point(grader: OfflineGrader) -> None:
    grade = await grader.grade(ITEM, "ReLU has a gradient of one for positive inputs.")
    dying = next(v for v in grade.verdicts if v.key_point.startswith("Dying ReLU"))
    assert dying.status is Coverage.MISSING
    assert "The reference puts it as" in dying.hint
    assert "units stuck in the negative region" in dying.hint
