"""Recompute the numbers stated in the classical-ML foundations questions (odds, PCA)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states


def test_logistic_odds_ratio() -> None:
    beta, p0 = 0.693, 0.2
    ratio = math.exp(beta)
    odds = p0 / (1 - p0)
    p1 = odds * ratio / (1 + odds * ratio)
    assert_states(
        "ml-foundations-logistic-regression-coefficients",
        f"exp(0.693) ≈ {round(ratio)}",
        f"odds {odds:g}",
        f"p = 0.5 / 1.5 ≈ {p1:.3f}",
    )


def test_pca_explained_variance() -> None:
    eigenvalues = np.array([4, 2, 1, 0.5, 0.5])
    ratios = eigenvalues / eigenvalues.sum()
    assert_states(
        "ml-foundations-pca",
        f"= {eigenvalues.sum():g}",
        f"explains 4 / 8 = {ratios[0]:.0%}",
        f"explain 6 / 8 = {ratios[:2].sum():.0%}",
    )
