"""Recompute the numbers stated in the evaluation and debugging questions (precision and recall,
initial loss, ROC-AUC, calibration, McNemar, cost-based thresholds)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from tests.questions.numeric import assert_states


def test_precision_recall_f1() -> None:
    tp, fp, fn, tn = 40, 10, 20, 930
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    accuracy = (tp + tn) / (tp + fp + fn + tn)
    all_negative_accuracy = (fp + tn) / (tp + fp + fn + tn)
    assert f1 == pytest.approx(8 / 11)
    assert_states(
        "evaluation-debugging-precision-recall-f1-example",
        f"= {precision:g}",
        f"≈ {recall:.3f}",
        f"≈ {f1:.3f}",
        f"= {accuracy:g}",
        f"{all_negative_accuracy:g} accuracy",
    )


def test_initial_cross_entropy_loss() -> None:
    classes = 10
    probs = np.full(classes, 1 / classes)
    loss = -math.log(probs[0])
    assert loss == pytest.approx(math.log(classes))
    assert_states(
        "evaluation-debugging-initial-loss-check",
        f"ln(10) ≈ {loss:.4f}",
    )


def test_roc_auc_by_ranking() -> None:
    positives = np.array([0.9, 0.8, 0.4])
    negatives = np.array([0.7, 0.3, 0.2, 0.1])
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    pairs = positives.size * negatives.size
    auc = (wins + 0.5 * ties) / pairs
    assert_states(
        "evaluation-debugging-roc-auc-ranking-example",
        f"{wins} / {pairs} ≈ {auc:.4f}",
    )


def test_expected_calibration_error() -> None:
    bins = [(4, 0.6, 2), (6, 0.9, 4)]  # (count, confidence, correct)
    total = sum(count for count, _, _ in bins)
    gaps = [abs(correct / count - conf) for count, conf, correct in bins]
    ece = sum(count / total * gap for (count, _, _), gap in zip(bins, gaps, strict=True))
    assert ece == pytest.approx(0.18)
    assert_states(
        "evaluation-debugging-calibration-ece",
        f"gap of {gaps[0]:.1f}",
        f"gap of about {gaps[1]:.3f}",
        f"= {ece:.2f}.",
    )


def test_mcnemar_statistic() -> None:
    b, c = 30, 15
    corrected = (abs(b - c) - 1) ** 2 / (b + c)
    uncorrected = (b - c) ** 2 / (b + c)
    # Chi-squared with one degree of freedom is the square of a standard normal.
    p_value = math.erfc(math.sqrt(corrected / 2))
    critical = NormalDist().inv_cdf(0.975) ** 2
    n = b + c
    exact_p = 2 * sum(math.comb(n, k) for k in range(max(b, c), n + 1)) / 2**n
    assert corrected > critical
    assert_states(
        "evaluation-debugging-mcnemar-significance",
        f"196 / 45 ≈ {corrected:.2f}",
        f"{critical:.2f}",
        f"about {p_value:.3f}",
        f"225 / 45 = {uncorrected:.1f}",
        f"p ≈ {exact_p:.3f}",
    )


def test_cost_minimizing_threshold() -> None:
    cost_fp, cost_fn = 1.0, 9.0
    threshold = cost_fp / (cost_fp + cost_fn)
    # At the threshold, the expected costs of predicting positive and negative are equal.
    assert (1 - threshold) * cost_fp == pytest.approx(threshold * cost_fn)
    assert_states(
        "evaluation-debugging-decision-threshold",
        "C_FP / (C_FP + C_FN)",
        f"predict positive above {threshold:g}",
    )
