"""Recompute the numbers stated in the classical-ml track's supervised-models questions.

Lasso and ridge solutions (checked against a direct numerical minimisation), SVM margins and
hinge losses, the variance inflation factor, a naive Bayes posterior with Laplace smoothing and
kNN distances before and after scaling are recomputed with numpy.
"""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, fmt_list, thousands


def test_lasso_soft_thresholding_and_ridge_shrinkage() -> None:
    qid = "classical-ml-ridge-lasso-shrinkage"
    ols, lam = np.array([3.0, 0.5, -1.2]), 1.0
    lasso = np.sign(ols) * np.maximum(np.abs(ols) - lam, 0.0)
    ridge = ols / (1 + lam)
    # with X = I the objectives separate; minimise each one on a fine grid to confirm the formulas
    grid = np.linspace(-5, 5, 200_001)
    for b, w_lasso, w_ridge in zip(ols, lasso, ridge, strict=True):
        lasso_objective = 0.5 * (b - grid) ** 2 + lam * np.abs(grid)
        ridge_objective = 0.5 * (b - grid) ** 2 + lam / 2 * grid**2
        assert abs(grid[np.argmin(lasso_objective)] - w_lasso) < 1e-4
        assert abs(grid[np.argmin(ridge_objective)] - w_ridge) < 1e-4
    assert_states(
        qid,
        f"3 becomes {lasso[0]:g}, 0.5 becomes {lasso[1]:g} and −1.2 becomes {lasso[2]:g}",
        f"{ridge[0]:g}, {ridge[1]:g} and {ridge[2]:g}",
    )


def test_svm_margin_and_hinge_losses() -> None:
    qid = "classical-ml-svm-margin-hinge-example"
    w, b = np.array([2.0, 1.0]), -3.0
    width = 2 / np.linalg.norm(w)
    assert_states(qid, f"2 / √5 ≈ {width:.3f}")
    for point, label, support in (((1, 2), 1, True), ((2, 2), 1, False), ((0.5, 1), 1, True)):
        value = float(w @ np.array(point) + b)
        hinge = max(0.0, 1 - label * value)
        # support vectors of a soft-margin SVM: on or inside the margin (y·f <= 1)
        assert (label * value <= 1) is support
        assert_states(qid, f"= {value:g}")
        assert_states(qid, f"hinge loss {hinge:g}" if hinge == 0 else f"1 − (−1) = {hinge:g}")


def test_variance_inflation_factor() -> None:
    qid = "classical-ml-multicollinearity-vif"
    r_squared = 0.9
    vif = 1 / (1 - r_squared)
    # the same figure from data: regress x2 on x1 and compare the coefficient variance
    rng = np.random.default_rng(5)
    x1 = rng.standard_normal(200_000)
    x2 = math.sqrt(r_squared) * x1 + math.sqrt(1 - r_squared) * rng.standard_normal(x1.size)
    corr = np.corrcoef(x1, x2)[0, 1]
    assert abs(1 / (1 - corr**2) - vif) < 0.2
    assert_states(qid, f"1 / {1 - r_squared:.1f} = {vif:.0f}", f"√10 ≈ {math.sqrt(vif):.2f}")


def test_naive_bayes_posterior_and_laplace_smoothing() -> None:
    qid = "classical-ml-naive-bayes-spam-example"
    spam = 0.4 * 0.30 * 0.05
    ham = 0.6 * 0.02 * 0.20
    ham_tokens, vocabulary = 1000, 5000
    smoothed = (0 + 1) / (ham_tokens + vocabulary)
    assert_states(
        qid,
        f"0.4 × 0.30 × 0.05 = {spam:g}",
        f"0.6 × 0.02 × 0.20 = {ham:.4f}",
        f"≈ {spam / (spam + ham):.3f}",
        f"(0 + 1) / ({thousands(ham_tokens)} + {thousands(vocabulary)}) = 1 / "
        f"{thousands(ham_tokens + vocabulary)}",
        f"≈ {smoothed:.6f}",
    )


def test_knn_distances_before_and_after_scaling() -> None:
    qid = "classical-ml-knn-feature-scaling-example"
    query = np.array([30.0, 50_000.0])
    a, b = np.array([31.0, 58_000.0]), np.array([60.0, 51_000.0])
    scale = np.array([10.0, 20_000.0])
    raw_a, raw_b = np.linalg.norm(a - query), np.linalg.norm(b - query)
    std_a, std_b = np.linalg.norm((a - query) / scale), np.linalg.norm((b - query) / scale)
    assert raw_b < raw_a and std_a < std_b  # the nearest neighbour flips
    assert_states(
        qid,
        f"≈ {thousands(round(raw_a))} away",
        f"≈ {thousands(int(raw_b))}.{round(raw_b % 1 * 10)} away",
        f"differs by {fmt_list((a - query) / scale, 1).replace('[', '(').replace(']', ')')}",
        f"≈ {std_a:.3f} away",
        f"about {std_b:.1f} away",
    )
