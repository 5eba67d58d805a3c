"""Recompute the numbers stated in the statistics track's experimentation questions.

Sample size and power, the false-positive rate of peeking (by a seeded simulation of the
z-statistic path), CUPED's variance reduction, the sample-ratio-mismatch test and the design
effect are recomputed with ``math``, ``statistics.NormalDist`` and numpy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from tests.questions.numeric import assert_states, assert_states_number, thousands

STANDARD_NORMAL = NormalDist()


def per_arm_sample_size(p1: float, p2: float, alpha: float, power: float) -> float:
    z_alpha = STANDARD_NORMAL.inv_cdf(1 - alpha / 2)
    z_beta = STANDARD_NORMAL.inv_cdf(power)
    return (z_alpha + z_beta) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2


def per_arm_sample_size_pooled(p1: float, p2: float, alpha: float, power: float) -> float:
    z_alpha = STANDARD_NORMAL.inv_cdf(1 - alpha / 2)
    z_beta = STANDARD_NORMAL.inv_cdf(power)
    p_bar = (p1 + p2) / 2
    spread = z_alpha * math.sqrt(2 * p_bar * (1 - p_bar)) + z_beta * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return spread**2 / (p2 - p1) ** 2


def test_ab_test_sample_size() -> None:
    qid = "statistics-ab-test-sample-size"
    p1, p2, alpha, power = 0.10, 0.11, 0.05, 0.80
    z_sum_squared = (STANDARD_NORMAL.inv_cdf(0.975) + STANDARD_NORMAL.inv_cdf(0.80)) ** 2
    variance_term = p1 * (1 - p1) + p2 * (1 - p2)
    n = math.ceil(per_arm_sample_size(p1, p2, alpha, power))
    n_pooled = math.ceil(per_arm_sample_size_pooled(p1, p2, alpha, power))
    n_half_lift = per_arm_sample_size(p1, p1 + 0.005, alpha, power)
    per_arm_per_day = 6000 / 2
    assert_states(
        qid,
        f"≈ {z_sum_squared:.2f}",
        f"= {variance_term:.4f}",
        f"≈ {thousands(n)} users per arm",
        f"about {thousands(n_pooled)})",
        f"about {thousands(int(round(2 * n, -2)))} in total",
        f"in about {round(n / per_arm_per_day)} days",
        f"about {thousands(int(round(n_half_lift, -3)))} per arm",
    )
    assert 3.8 < n_half_lift / n < 4.0  # halving the lift roughly quadruples the sample


def peeking_false_positive_rate(looks: int, simulations: int, seed: int) -> float:
    """Share of null experiments whose running z-statistic crosses ±1.96 at any of the looks."""
    rng = np.random.default_rng(seed)
    increments = rng.standard_normal((simulations, looks))
    z_path = np.cumsum(increments, axis=1) / np.sqrt(np.arange(1, looks + 1))
    return float((np.abs(z_path) >= STANDARD_NORMAL.inv_cdf(0.975)).any(axis=1).mean())


def test_peeking_inflates_false_positives() -> None:
    qid = "statistics-peeking-sequential-testing"
    ten_looks = peeking_false_positive_rate(10, 400_000, seed=7)
    five_looks = peeking_false_positive_rate(5, 400_000, seed=11)
    one_look = peeking_false_positive_rate(1, 400_000, seed=13)
    assert abs(one_look - 0.05) < 0.002  # the simulation reproduces the nominal level
    assert_states(
        qid, f"about {round(ten_looks * 100)}%", f"about {round(five_looks * 100)}% with 5"
    )
    assert round(ten_looks / 0.05) == 4
    assert_states(qid, "nearly four times the nominal level")


def test_cuped_variance_reduction() -> None:
    qid = "statistics-cuped-variance-reduction"
    rho, users = 0.6, 40_000
    factor = 1 - rho**2
    # check the formula on data: regression adjustment with a correlated pre-period covariate
    rng = np.random.default_rng(3)
    x = rng.standard_normal(500_000)
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(x.size)
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    adjusted = y - theta * (x - x.mean())
    assert abs(adjusted.var() / y.var() - factor) < 0.01
    assert_states(
        qid,
        f"falls to {factor:.2f} of the original, a {1 - factor:.0%} reduction",
        f"√{factor:.2f} = {math.sqrt(factor):.1f}",
        f"{thousands(users)} users per arm become {thousands(round(users * factor))}",
        f"an effect {1 - math.sqrt(factor):.0%} smaller",
    )


def test_sample_ratio_mismatch() -> None:
    qid = "statistics-sample-ratio-mismatch"
    control, treatment = 50_600, 49_400
    expected = (control + treatment) / 2
    chi_square = sum((count - expected) ** 2 / expected for count in (control, treatment))
    z = math.sqrt(chi_square)
    p_value = 2 * (1 - STANDARD_NORMAL.cdf(z))
    imbalance = (control - expected) / expected
    assert_states(
        qid,
        f"= {chi_square:g} with one degree of freedom",
        f"z ≈ {z:.2f}",
        f"about {p_value:.5f}",
        f"A {imbalance:.1%} imbalance",
    )


def test_design_effect_of_impression_level_analysis() -> None:
    qid = "statistics-unit-of-randomisation-design-effect"
    impressions_per_user, icc = 20, 0.05
    design_effect = 1 + (impressions_per_user - 1) * icc
    assert_states(
        qid,
        f"1 + {impressions_per_user - 1} × {icc} = {design_effect:.2f}",
        f"√{design_effect:.2f} ≈ {math.sqrt(design_effect):.2f}",
    )
    assert_states_number(qid, design_effect)
