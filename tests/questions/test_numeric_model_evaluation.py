"""Recompute the numbers stated in the classical-ml track's model-evaluation questions.

Nested cross-validation fit counts, the undersampling probability correction (checked by
refitting a logistic regression on undersampled simulated data), smoothed target encodings,
cyclical hour distances and the cost-sensitive threshold are recomputed with math and numpy.
"""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states


def test_nested_cross_validation_fit_count() -> None:
    qid = "classical-ml-nested-cross-validation"
    outer, inner, configurations = 5, 3, 20
    fits = outer * (configurations * inner + 1)
    assert_states(
        qid,
        f"{outer} × ({configurations} × {inner} + 1) = {fits} fits",
        f"against {configurations * inner} for plain tuning",
    )


def fit_logistic_regression(x: np.ndarray, y: np.ndarray, steps: int = 2000) -> np.ndarray:
    """Intercept and slope by Newton's method on the log-likelihood."""
    design = np.column_stack([np.ones_like(x), x])
    theta = np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ theta))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, gradient)
        theta += step
        if np.abs(step).max() < 1e-10:
            break
    return theta


def test_undersampling_shifts_the_intercept_by_log_beta() -> None:
    qid = "classical-ml-undersampling-probability-correction"
    positive_rate, beta = 0.01, 0.1
    sampled_share = positive_rate / (positive_rate + beta * (1 - positive_rate))
    corrected = beta * 1.0 / (1 + beta * 1.0)  # odds 1 in the sample times beta
    assert_states(
        qid,
        f"≈ {sampled_share:.1%}",
        f"0.1 / 1.1 ≈ {corrected:.3f}",
        f"ln 0.1 ≈ {math.log(beta):.3f}",
        f"1 / β = {1 / beta:g}",
    )
    # simulation: the slope survives undersampling and the intercept moves by ln(1 / beta)
    rng = np.random.default_rng(17)
    x = rng.standard_normal(400_000)
    true_intercept, true_slope = -5.0, 1.0
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(true_intercept + true_slope * x)))).astype(float)
    keep = (y == 1) | (rng.random(x.size) < beta)
    intercept, slope = fit_logistic_regression(x[keep], y[keep])
    assert abs(slope - true_slope) < 0.1
    assert abs((intercept + math.log(beta)) - true_intercept) < 0.15


def test_smoothed_target_encoding() -> None:
    qid = "classical-ml-target-encoding-leakage"
    prior, m = 0.1, 10

    def encode(positives: int, count: int) -> float:
        return (positives + m * prior) / (count + m)

    assert_states(
        qid,
        f"(3 + 10 × 0.1) / (4 + 10) = 4 / 14 ≈ {encode(3, 4):.3f}",
        f"(300 + 1) / 410 ≈ {encode(300, 400):.3f}",
        f"raw {3 / 4:.2f}",
    )


def test_cyclical_hour_distances() -> None:
    qid = "classical-ml-cyclical-feature-encoding"

    def on_circle(hour: float) -> np.ndarray:
        angle = 2 * math.pi * hour / 24
        return np.array([math.sin(angle), math.cos(angle)])

    across_midnight = float(np.linalg.norm(on_circle(23) - on_circle(1)))
    midday = float(np.linalg.norm(on_circle(11) - on_circle(13)))
    assert math.isclose(across_midnight, midday)
    assert math.isclose(across_midnight, 2 * math.sin(math.pi / 12))
    assert_states(qid, f"{23 - 1} apart", f"2 sin(π / 12) ≈ {across_midnight:.3f}")


def test_cost_sensitive_threshold() -> None:
    qid = "classical-ml-cost-sensitive-threshold"
    cost_fn, cost_fp = 200.0, 5.0
    threshold = cost_fp / (cost_fp + cost_fn)
    # at the threshold both decisions cost the same
    assert math.isclose(threshold * cost_fn, (1 - threshold) * cost_fp)
    assert_states(
        qid,
        f"5 / 205 ≈ {threshold:.4f}",
        f"{cost_fn / cost_fp:.0f} times as costly",
        f"almost {1 - threshold:.0%} likely to be legitimate",
    )
