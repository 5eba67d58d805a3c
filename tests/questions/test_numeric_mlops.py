"""Recompute the numbers stated in the mlops references: canary failure counts, PSI, the
two-sample KS statistic and critical values, and the label-delay fraud rate."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, thousands

#: The asymptotic 5% coefficient of the two-sample KS test, sqrt(-ln(0.025) / 2).
KS_C_ALPHA_05 = math.sqrt(-math.log(0.05 / 2) / 2)


def test_canary_failure_counts() -> None:
    qid = "mlops-canary-duration-rare-failures"
    per_minute = 1_000 * 0.05
    per_hour = per_minute * 60
    failures_hour = per_hour * 0.002
    sd_hour = math.sqrt(failures_hour)
    sigma_one_hour = failures_hour / sd_hour  # doubling adds one baseline mean of failures
    requests_four = per_hour * 4
    failures_four = requests_four * 0.002
    sd_four = math.sqrt(failures_four)
    assert_states(
        qid,
        f"5% of 1,000 = {per_minute:.0f} requests per minute, or {thousands(int(per_hour))} per hour",
        f"that is {failures_hour:.0f} expected failures per hour",
        f"sqrt(6) = {sd_hour:.2f}",
        f"gives {2 * failures_hour:.0f} failures instead of {failures_hour:.0f}",
        f"6 / 2.45 = {sigma_one_hour:.1f} standard deviations",
        f"served {thousands(int(requests_four))} requests, with {failures_four:.0f} failures",
        f"sqrt(24) = {sd_four:.2f}) against {2 * failures_four:.0f}",
        f"24 / 4.90 = {failures_four / sd_four:.1f} standard deviations",
    )


def test_population_stability_index() -> None:
    qid = "mlops-psi-worked-example"
    expected = np.full(4, 0.25)
    actual = np.array([0.10, 0.20, 0.30, 0.40])
    terms = (actual - expected) * np.log(actual / expected)
    psi = float(terms.sum())
    assert np.all(terms >= 0)
    # PSI is the symmetric KL divergence KL(a || e) + KL(e || a).
    jeffreys = float((actual * np.log(actual / expected)).sum())
    jeffreys += float((expected * np.log(expected / actual)).sum())
    assert math.isclose(psi, jeffreys)
    assert 0.1 < psi < 0.25  # a moderate shift under the usual thresholds
    assert_states(
        qid,
        *(
            f"ln({a / e:.1f}) = {term:.4f}"
            for a, e, term in zip(actual, expected, terms, strict=True)
        ),
        f"The total is {psi:.3f}",
    )


def ecdf(sample: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(sample), points, side="right") / len(sample)


def test_ks_statistic_and_critical_values() -> None:
    qid = "mlops-ks-test-drift"
    reference_sample = np.arange(1, 9)
    current_sample = np.arange(5, 13)
    grid = np.union1d(reference_sample, current_sample)
    gaps = np.abs(ecdf(reference_sample, grid) - ecdf(current_sample, grid))
    statistic = float(gaps.max())
    assert gaps[grid == 4][0] == statistic and gaps[grid == 8][0] == statistic

    def critical(n: int, m: int) -> float:
        return KS_C_ALPHA_05 * math.sqrt((n + m) / (n * m))

    assert statistic < critical(8, 8)
    assert_states(
        qid,
        f"about {KS_C_ALPHA_05:.3f} sqrt",
        f"4/8 = {ecdf(reference_sample, np.array([4]))[0]:.1f}",
        f"so D = {statistic:.1f}",
        f"for n = m = 8 that is {critical(8, 8):.3f}",
        f"= 10,000 the critical value is {critical(10_000, 10_000):.4f}",
    )


def test_label_delay_observed_rate() -> None:
    qid = "mlops-label-delay-fraud"
    true_rate, arrived_within_30_days = 0.01, 0.6
    observed = true_rate * arrived_within_30_days
    assert_states(
        qid,
        f"at most about {arrived_within_30_days:.0%} of the fraud",
        f"0.6 × 1% = {observed:.1%}",
        f"unlabelled {true_rate - observed:.1%} of transactions",
    )
