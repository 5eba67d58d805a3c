"""Quality floors of the offline grader on paraphrased answers, so a regression fails CI.

Each floor sits a small margin below the figure ``bench/paraphrase_quality.py`` measured when it
was set (the figures are quoted beside them). Two sets: the hand-written development answers
(``tests/data/grading/offline_dev_examples.yaml``, which the grader was tuned on), and the
independent paraphrase set (``tests/data/grading/paraphrase_set.yaml``, whole set, both splits), and the later dev-only
questions aimed at dense, reordered and bundled answers (``paraphrase_dev_more.yaml``), and a third
dev-only batch whose wrong answers reverse a direction, a role or which of two things does what
(``paraphrase_dev_extra.yaml``), and 40 questions answered blind to the grader
(``paraphrase_heldout.yaml``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bot.domain.bank import load_bank
from bot.grading.embeddings import require_embedder
from bot.grading.offline import OfflineGrader

ROOT = Path(__file__).resolve().parents[2]
DEV_EXAMPLES = ROOT / "tests" / "data" / "grading" / "offline_dev_examples.yaml"
PARAPHRASE_SET = ROOT / "tests" / "data" / "grading" / "paraphrase_set.yaml"
PARAPHRASE_DEV_MORE = ROOT / "tests" / "data" / "grading" / "paraphrase_dev_more.yaml"
PARAPHRASE_DEV_EXTRA = ROOT / "tests" / "data" / "grading" / "paraphrase_dev_extra.yaml"
PARAPHRASE_HELDOUT = ROOT / "tests" / "data" / "grading" / "paraphrase_heldout.yaml"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "paraphrase_quality", ROOT / "bench" / "paraphrase_quality.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    require_embedder()
    return _bench()


def _figures(bench: ModuleType, path: Path):  # type: ignore[no-untyped-def]
    cases = bench.load_cases(path)
    questions = load_bank(ROOT / "questions").by_id()
    scored, skipped = bench.grade_cases(cases, questions, OfflineGrader())
    assert scored, "no answer could be graded"
    assert len(skipped) <= len(cases) // 5, "too many answers point at unknown questions"
    return bench.figures(scored, "all")


def _assert_floors(  # type: ignore[no-untyped-def]
    figures, *, correct: float, share: float, terse: float, wrong: float, vague: float, auc: float
) -> None:
    """Correct and terse means at least, share of correct answers at 75+ at least, wrong and
    vague means at most, ROC AUC of correct against wrong at least."""
    assert figures.mean["correct"] >= correct
    assert figures.pass_share["correct"] >= share
    assert figures.mean["terse"] >= terse
    assert figures.mean["wrong"] <= wrong
    assert figures.mean["vague"] <= vague
    assert figures.auc_correct_vs_wrong >= auc


def test_dev_examples_keep_their_quality(bench: ModuleType) -> None:
    figures = _figures(bench, DEV_EXAMPLES)
    # measured on the current bank: correct 88.6 (100 % >= 75), terse 78.2, partial 35.6,
    # wrong 6.0, vague 8.0, AUC 1.000
    _assert_floors(figures, correct=85, share=0.8, terse=74, wrong=12, vague=12, auc=0.95)
    assert figures.mean["correct"] > figures.mean["partial"] + 40


def test_paraphrase_set_keeps_its_measured_quality(bench: ModuleType) -> None:
    figures = _figures(bench, PARAPHRASE_SET)
    # measured on the whole set (48 questions, dev + test): correct 86.7 (85 % >= 75),
    # terse 83.6, partial 44.2, wrong 30.0, vague 10.2, AUC 0.966, wrong > partial 17 %
    # (before clause windows, related terms, role swaps and bundled points: correct 84.6
    # (83 %), terse 80.4, partial 42.2, wrong 27.1, vague 9.7, AUC 0.967, 15 %). The wrong
    # mean sits exactly on the goal of 30.
    _assert_floors(figures, correct=84, share=0.83, terse=80, wrong=30, vague=13, auc=0.95)
    assert figures.wrong_beats_partial <= 0.2


def test_more_dev_questions_keep_their_measured_quality(bench: ModuleType) -> None:
    figures = _figures(bench, PARAPHRASE_DEV_MORE)
    # measured (13 questions, dev, tuned on): correct 89.8 (92 % >= 75), terse 87.7, partial
    # 38.0, wrong 39.4, vague 0.0, AUC 0.988; before clause windows, related terms, role swaps
    # and bundled points: correct 82.2 (77 %), terse 86.2, wrong 40.5, AUC 0.923. The wrong
    # answers here are hard on purpose (roles exchanged, reversed claims in the right words):
    # their mean is above the goal of 30.
    _assert_floors(figures, correct=87, share=0.84, terse=84, wrong=42, vague=10, auc=0.95)


def test_third_dev_batch_keeps_its_measured_quality(bench: ModuleType) -> None:
    figures = _figures(bench, PARAPHRASE_DEV_EXTRA)
    # measured (8 questions, dev, written for reversed directions, roles and which-of-two):
    # correct 76.9 (75 % >= 75), terse 89.9, partial 37.5, wrong 51.2, vague 3.8, AUC 0.750.
    # Rules tuned on this batch raised it to correct 84.8, wrong 27.5, AUC 0.938 but left the
    # held-back test split where it was (79.9 / 30.2 / 0.929 against 80.7 / 29.5 / 0.938), so
    # they were not kept: these floors guard the grader as shipped, not the goal.
    _assert_floors(figures, correct=74, share=0.7, terse=87, wrong=54, vague=8, auc=0.7)


def test_blind_heldout_questions_keep_their_measured_quality(bench: ModuleType) -> None:
    figures = _figures(bench, PARAPHRASE_HELDOUT)
    # measured (40 questions drawn at random and answered blind to the grader, 2026-12-01, on
    # the grader as it stood before that day's work): correct 81.3 (68 % >= 75), terse 79.8,
    # partial 45.1, wrong 48.1, vague 4.8, AUC 0.821. Far from the goals (wrong 30,
    # AUC 0.95): these floors guard against a regression; do not tune the grader on this set.
    _assert_floors(figures, correct=79, share=0.63, terse=77, wrong=51, vague=8, auc=0.79)
