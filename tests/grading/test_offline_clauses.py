"""The offline grader reads dense answers clause by clause, knows related ML words and acronyms,
notices roles exchanged between a key point and a passage, and credits a bundled key point by
its facts. Each test states a case in words written for it (none comes from the bench sets)."""

from __future__ import annotations

import pytest

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage
from bot.grading.base import GradingItem
from bot.grading.claims import swapped_roles
from bot.grading.embeddings import require_embedder
from bot.grading.offline import (
    _CLAIMS,
    OfflineGrader,
    _abbreviates,
    _clauses,
    _point_parts,
    _statement,
    _support,
    _windows_of,
    split_sentences,
    tokenize,
)


@pytest.fixture(scope="module")
def grader() -> OfflineGrader:
    require_embedder()
    return OfflineGrader()


def _clause_texts(sentence: str) -> list[str]:
    (parsed,) = split_sentences(sentence)
    return [sentence[start:end] for start, end in _clauses(parsed)]


def test_a_sentence_is_cut_into_clauses_at_punctuation_and_joining_words() -> None:
    sentence = (
        "Transfer learning starts from a network trained on a large dataset and adapts it, "
        "because labels are scarce; popular starting points are ResNet and BERT."
    )
    assert _clause_texts(sentence) == [
        "Transfer learning starts from a network trained on a large dataset and adapts it",
        "because labels are scarce",
        "popular starting points are ResNet and BERT",
    ]


def test_a_number_with_thousands_separators_is_not_cut() -> None:
    assert _clause_texts("The table holds 38,597,376 weights, which the head reuses.") == [
        "The table holds 38,597,376 weights",
        "which the head reuses",
    ]


def test_clause_windows_come_only_from_long_sentences() -> None:
    short = "Dropout is off at test time, so outputs are deterministic."
    windows, _ = _windows_of(short)
    assert not any(window.is_clause for window in windows)
    long = (
        "A pretrained network is reused as the starting point for a new task, because labelled "
        "examples cost a lot to collect; then either the backbone is frozen or all of it is tuned."
    )
    windows, _ = _windows_of(long)
    clauses = [window for window in windows if window.is_clause]
    assert clauses
    for window in clauses:
        # a clause is verbatim answer text, and its claims are read against its whole sentence
        assert long[window.start : window.end] == window.text
        assert window.claim_text == long


DENSE_ITEM = GradingItem(
    prompt="What is transfer learning and why is it useful?",
    reference=(
        "Transfer learning reuses a network trained on a large source task as the starting point "
        "for a new target task. It is useful because labelled data and compute are expensive."
    ),
    key_points=(
        KeyPoint(text="Reuses a network trained on a large source task for a new task", weight=1),
        KeyPoint(text="It is useful because labelled data is expensive", weight=1),
    ),
)


def test_one_dense_sentence_supports_two_key_points_with_clause_evidence(
    grader: OfflineGrader,
) -> None:
    answer = (
        "You take a network already trained on a huge source dataset and fine-tune it on your new "
        "task, because collecting labelled examples is costly; ResNet and BERT are typical."
    )
    grade = grader.grade_sync(DENSE_ITEM, answer)
    assert [v.status for v in grade.verdicts] == [Coverage.COVERED, Coverage.COVERED]
    for verdict in grade.verdicts:
        assert verdict.evidence in answer
    # the evidence for the reason is the clause that gives it
    assert "costly" in grade.verdicts[1].evidence
    assert grade.score >= 90


def test_related_words_count_for_a_key_term() -> None:
    statement = _statement("The kernel slides over height and width", "Explain Conv2D.")
    with_synonyms = "The filter moves across width and height."
    unrelated = "The tensor is stored across width and height."
    supports = []
    for answer in (with_synonyms, unrelated):
        windows, _ = _windows_of(answer)
        supports.append(max(_support(statement, w, None, None) for w in windows))
    assert supports[0] > supports[1] + 0.2


def test_an_acronym_in_the_answer_shows_the_words_it_stands_for() -> None:
    statement = _statement(
        "A slowly decaying autocorrelation function signals a trend", "How to spot a trend?"
    )
    (acronym,) = _windows_of("A slowly decaying ACF signals a trend.")[0]
    (other,) = _windows_of("A slowly decaying ABC signals a trend.")[0]
    assert _support(statement, acronym, None, None) > _support(statement, other, None, None)


def test_single_letters_do_not_make_an_acronym() -> None:
    statement = _statement("K and V for each head", "What does the cache hold?")
    (window,) = _windows_of("The KV cache uses memory.")[0]
    assert _support(statement, window, None, None) < 0.5


def _swapped(statement: str, passage: str) -> bool:
    return swapped_roles(_CLAIMS, statement, tokenize(statement), passage, tokenize(passage))


def test_fixes_said_of_the_opposite_role_are_a_swap() -> None:
    statement = "Fixes for overfitting are more data, dropout and early stopping"
    swapped = (
        "To fix overfitting you make the model bigger, and to fix underfitting you add "
        "dropout, more data and early stopping."
    )
    kept = (
        "To fix overfitting you add dropout, more data and early stopping, and to fix "
        "underfitting you make the model bigger."
    )
    assert _swapped(statement, swapped)
    assert not _swapped(statement, kept)


def test_a_passage_naming_one_role_only_is_not_a_swap() -> None:
    assert not _swapped(
        "Fixes for overfitting are dropout and early stopping",
        "Against overfitting, use dropout and early stopping.",
    )


def test_only_what_a_statement_says_of_its_role_is_compared() -> None:
    # the statement says the weights use E4M3, not the backward pass: a passage putting the
    # weights in the forward pass agrees with it
    assert not _swapped(
        "Gradients use E5M2 in the backward pass, while weights and activations use E4M3",
        "Weights and activations use E4M3 in the forward pass; gradients use E5M2 in the "
        "backward pass.",
    )


SWAP_ITEM = GradingItem(
    prompt="How do you fix overfitting and underfitting?",
    reference=(
        "Overfitting is fixed with more data, dropout and early stopping. Underfitting is fixed "
        "with a bigger model and longer training."
    ),
    key_points=(
        KeyPoint(text="Fixes for overfitting are more data, dropout and early stopping", weight=1),
        KeyPoint(text="Fixes for underfitting are a bigger model and longer training", weight=1),
    ),
)


def test_an_answer_exchanging_the_roles_scores_low_and_is_told(grader: OfflineGrader) -> None:
    right = (
        "For overfitting you collect more data, add dropout and stop early. For underfitting you "
        "use a bigger model and train it longer."
    )
    exchanged = (
        "To cure overfitting you use a bigger model and train it longer, and to cure underfitting "
        "you collect more data, add dropout and stop early."
    )
    good = grader.grade_sync(SWAP_ITEM, right)
    bad = grader.grade_sync(SWAP_ITEM, exchanged)
    assert good.score >= 90
    assert bad.score <= 30
    assert bad.factual_errors


def test_a_bundled_key_point_splits_into_its_facts_and_keeps_a_list_whole() -> None:
    prompt = "How is a pretrained network reused?"
    assert _point_parts(
        "Two ways: feature extraction with a frozen network, or fine-tuning some or all layers",
        prompt,
    ) == ("feature extraction with a frozen network", "or fine-tuning some or all layers")
    # list items too short to be facts of their own stay with the part before them
    assert _point_parts("Popular backbones include residual nets, BERT, GPT", prompt) == (
        "Popular backbones include residual nets, BERT, GPT",
    )


BUNDLE_ITEM = GradingItem(
    prompt="Name the two ways to reuse a pretrained network.",
    reference=(
        "Either freeze the pretrained network and train only a new head on its features (feature "
        "extraction), or fine-tune some or all of its layers with a small learning rate."
    ),
    key_points=(
        KeyPoint(
            text="Feature extraction keeps the backbone frozen; fine-tuning updates its layers",
            weight=1,
        ),
    ),
)


def test_a_bundled_point_stated_fact_by_fact_in_separate_sentences_is_covered(
    grader: OfflineGrader,
) -> None:
    answer = (
        "One option is pure feature extraction, where the backbone stays frozen and a fresh "
        "classifier head learns on top of it. The other is fine-tuning, which keeps updating the "
        "pretrained layers themselves with a small step size."
    )
    grade = grader.grade_sync(BUNDLE_ITEM, answer)
    assert grade.verdicts[0].status is Coverage.COVERED
    assert grade.verdicts[0].evidence in answer


def test_a_bundled_point_missing_one_fact_is_not_lifted_by_its_parts(
    grader: OfflineGrader,
) -> None:
    answer = (
        "One option is pure feature extraction, where the backbone stays frozen and a fresh "
        "classifier head learns on top of it."
    )
    sentences = split_sentences(answer)
    point = BUNDLE_ITEM.key_points[0]
    assert grader._parts_verdict(BUNDLE_ITEM, point, sentences, answer, None) is None
    both = answer + " The other is fine-tuning, which keeps updating the pretrained layers."
    lifted = grader._parts_verdict(BUNDLE_ITEM, point, split_sentences(both), both, None)
    assert lifted is not None and lifted.status is Coverage.COVERED


def test_acronyms_may_take_letters_from_inside_a_word() -> None:
    assert _abbreviates("acf", ("autocorrelation", "function"))
    assert _abbreviates("gan", ("generative", "adversarial", "network"))
    assert not _abbreviates("fca", ("autocorrelation", "function"))
    assert not _abbreviates("acfx", ("autocorrelation", "function"))
