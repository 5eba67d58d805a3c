"""Recompute the numbers stated in the tree and ensemble questions (impurity, out-of-bag share,
variance of an average)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states, assert_states_number


def _gini(p: np.ndarray) -> float:
    return float(1 - np.sum(p**2))


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def test_gini_and_entropy_split() -> None:
    parent, right = np.array([0.6, 0.4]), np.array([1 / 3, 2 / 3])
    gini_parent, h_parent = _gini(parent), _entropy(parent)
    gini_right, h_right = _gini(right), _entropy(right)
    weighted_gini, weighted_h = 0.6 * gini_right, 0.6 * h_right
    assert_states(
        "ml-foundations-gini-entropy-split",
        f"Gini = 1 - (0.36 + 0.16) = {gini_parent:.2f}",
        f"≈ {h_parent:.3f} bits",
        f"4/9 ≈ {gini_right:.3f} and entropy ≈ {h_right:.3f} bits",
        f"Weighted Gini = 0.6 × 0.444 ≈ {weighted_gini:.3f}",
        f"Gini decrease is 0.48 - 0.267 ≈ {gini_parent - weighted_gini:.3f}",
        f"Weighted entropy = 0.6 × 0.918 ≈ {weighted_h:.3f}",
        f"information gain is 0.971 - 0.551 ≈ {h_parent - weighted_h:.3f} bits",
    )


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_out_of_bag_fraction(n: int) -> None:
    left_out = (1 - 1 / n) ** n
    assert abs(left_out - math.exp(-1)) < 1e-3, "the limit the reference quotes"
    assert_states(
        "ml-foundations-random-forest-oob",
        f"1/e ≈ {math.exp(-1):.3f}",
        f"about {math.exp(-1):.1%} of the samples are out of bag",
        f"about {1 - math.exp(-1):.1%} are used",
    )


def test_variance_of_an_ensemble_average() -> None:
    members, rho, sigma2 = 10, 0.3, 1.0
    rng = np.random.default_rng(0)
    cov = np.full((members, members), rho * sigma2) + np.eye(members) * (1 - rho) * sigma2
    draws = rng.multivariate_normal(np.zeros(members), cov, size=200_000)
    simulated = float(draws.mean(axis=1).var())
    closed_form = rho * sigma2 + (1 - rho) * sigma2 / members
    assert simulated == pytest.approx(closed_form, rel=0.02), "the formula the reference states"
    assert_states_number("ml-foundations-ensemble-methods", closed_form, rho, (1 - rho) / members)
