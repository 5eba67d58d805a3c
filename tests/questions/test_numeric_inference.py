"""Recompute the numbers stated in the statistics track's inference questions.

Multiple-testing decisions, the two-proportion test, the confidence and credible intervals of a
rate, an exact permutation test and Welch's test are recomputed with ``math``,
``statistics.NormalDist`` and numpy (no scipy), and checked against the references.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np

from tests.questions.numeric import assert_states, assert_states_number, numbers_in, prompt

STANDARD_NORMAL = NormalDist()
Z_975 = STANDARD_NORMAL.inv_cdf(0.975)


def two_sided_p(z: float) -> float:
    return 2 * (1 - STANDARD_NORMAL.cdf(abs(z)))


def benjamini_hochberg(p_values: list[float], q: float) -> int:
    """How many hypotheses BH rejects at false discovery rate q."""
    ordered = sorted(p_values)
    m = len(ordered)
    passing = [i for i, p in enumerate(ordered, start=1) if p <= i / m * q]
    return max(passing, default=0)


def holm(p_values: list[float], alpha: float) -> int:
    """How many hypotheses Holm's step-down procedure rejects."""
    m = len(p_values)
    rejected = 0
    for i, p in enumerate(sorted(p_values)):
        if p > alpha / (m - i):
            break
        rejected += 1
    return rejected


def test_multiple_testing_decisions() -> None:
    qid = "statistics-multiple-testing-bonferroni-bh"
    p_values = [p for p in numbers_in(prompt(qid)) if 0 < p < 1 and p != 0.05]
    assert len(p_values) == 10
    alpha, m = 0.05, len(p_values)
    uncorrected = sum(p < alpha for p in p_values)
    bonferroni = sum(p <= alpha / m for p in p_values)
    bh = benjamini_hochberg(p_values, alpha)
    assert (uncorrected, bonferroni, bh, holm(p_values, alpha)) == (6, 1, 4, 1)
    thresholds = ", ".join(f"{i / m * alpha:.3f}" for i in range(1, 6))
    assert_states(
        qid,
        "six p-values are below 0.05",
        f"0.05 / 10 = {alpha / m:g}",
        "so one metric",
        f"that is {thresholds} and so on",
        "so four metrics",
        "it also keeps only one",
    )


def test_two_proportion_test_and_chi_square() -> None:
    qid = "statistics-two-proportion-chi-square"
    conv_a, n_a, conv_b, n_b = 200, 2000, 250, 2000
    pooled = (conv_a + conv_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    diff = conv_b / n_b - conv_a / n_a
    z = diff / se_pooled
    # chi-square statistic of the 2x2 table, computed from observed and expected counts
    observed = np.array([[conv_a, n_a - conv_a], [conv_b, n_b - conv_b]], dtype=float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    chi_square = float(((observed - expected) ** 2 / expected).sum())
    assert math.isclose(chi_square, z**2)
    se_unpooled = math.sqrt(
        conv_a / n_a * (1 - conv_a / n_a) / n_a + conv_b / n_b * (1 - conv_b / n_b) / n_b
    )
    low, high = diff - Z_975 * se_unpooled, diff + Z_975 * se_unpooled
    assert_states(
        qid,
        f"{conv_a + conv_b} / 4,000 = {pooled:.4f}",
        f"≈ {se_pooled:.5f}",
        f"z = {diff:g} / {se_pooled:.5f} ≈ {z:.2f}",
        f"2 × (1 − Φ({z:.2f})) ≈ {two_sided_p(z):.4f}",
        f"about {chi_square:.2f} with one degree of freedom",
        f"{diff:g} ± 1.96 × {se_unpooled:.5f}",
        f"about {low * 100:.1f} to {high * 100:.1f} points",
    )


def test_confidence_and_credible_intervals_for_a_rate() -> None:
    qid = "statistics-confidence-vs-credible-interval"
    successes, n = 18, 60
    p_hat = successes / n
    half_width = 1.96 * math.sqrt(p_hat * (1 - p_hat) / n)
    alpha_post, beta_post = 1 + successes, 1 + n - successes
    # central 95% interval of Beta(19, 43) by integrating the density on a fine grid
    grid = np.linspace(0.0, 1.0, 2_000_001)[1:-1]
    log_density = (alpha_post - 1) * np.log(grid) + (beta_post - 1) * np.log1p(-grid)
    cdf = np.cumsum(np.exp(log_density - log_density.max()))
    cdf /= cdf[-1]
    low, high = grid[np.searchsorted(cdf, 0.025)], grid[np.searchsorted(cdf, 0.975)]
    assert_states(
        qid,
        f"0.3 ± {half_width:.3f}, about [{p_hat - half_width:.3f}, {p_hat + half_width:.3f}]",
        f"Beta({alpha_post}, {beta_post})",
        f"19 / 62 ≈ {alpha_post / (alpha_post + beta_post):.3f}",
        f"about [{low:.3f}, {high:.3f}]",
    )


def test_exact_permutation_test() -> None:
    qid = "statistics-permutation-test"
    new, old = [8, 9, 11, 12], [5, 6, 7, 10]
    scores = new + old
    observed = np.mean(new) - np.mean(old)
    differences = []
    for chosen in itertools.combinations(range(len(scores)), len(new)):
        group = [scores[i] for i in chosen]
        rest = [scores[i] for i in range(len(scores)) if i not in chosen]
        differences.append(np.mean(group) - np.mean(rest))
    total = len(differences)
    one_sided = sum(d >= observed - 1e-12 for d in differences)
    two_sided = sum(abs(d) >= observed - 1e-12 for d in differences)
    assert total == math.comb(8, 4)
    assert_states(
        qid,
        f"{np.mean(new):g} − {np.mean(old):g} = {observed:g}",
        f"C(8, 4) = {total}",
        f"{one_sided} / {total} ≈ {one_sided / total:.3f}",
        f"{two_sided} / {total} ≈ {two_sided / total:.3f}",
    )


def test_welch_difference_of_means() -> None:
    qid = "statistics-welch-difference-of-means"
    mean_c, sd_c, n_c = 12.0, 6.0, 400
    mean_t, sd_t, n_t = 12.9, 8.0, 400
    var_c, var_t = sd_c**2 / n_c, sd_t**2 / n_t
    se = math.sqrt(var_c + var_t)
    diff = mean_t - mean_c
    statistic = diff / se
    welch_df = (var_c + var_t) ** 2 / (var_c**2 / (n_c - 1) + var_t**2 / (n_t - 1))
    assert round(welch_df, -1) == 740
    assert_states(
        qid,
        f"√({var_c:.2f} + {var_t:.2f}) = √{var_c + var_t:.2f} = {se:g} minutes",
        f"{diff:.1f} / {se:g} = {statistic:.1f}",
        f"about {two_sided_p(statistic):.3f}",
        f"from {diff - 1.96 * se:.2f} to {diff + 1.96 * se:.2f} minutes",
    )
    assert_states_number(qid, round(welch_df, -1))
