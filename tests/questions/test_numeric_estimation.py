"""Recompute the numbers stated in the statistics track's estimation questions.

Beta-binomial smoothing of a click-through rate, isotonic calibration by pool-adjacent-violators,
biased and unbiased variances, test-set sizes for an accuracy estimate and the zero-failure
bound are recomputed from their formulas (``math``, ``statistics``, numpy).
"""

from __future__ import annotations

import itertools
import math
import statistics
from statistics import NormalDist

from tests.questions.numeric import assert_states, thousands

Z_975 = NormalDist().inv_cdf(0.975)


def test_mle_map_and_posterior_mean_of_a_ctr() -> None:
    qid = "statistics-mle-map-ctr-smoothing"
    clicks, impressions = 0, 20
    prior_a, prior_b = 2, 98
    post_a, post_b = prior_a + clicks, prior_b + impressions - clicks
    mode = (post_a - 1) / (post_a + post_b - 2)
    mean = post_a / (post_a + post_b)
    assert_states(
        qid,
        f"{clicks} / {impressions} = 0",
        f"Beta({post_a}, {post_b})",
        f"= {post_a - 1} / {post_a + post_b - 2} ≈ {mode:.4f}",
        f"= {post_a} / {post_a + post_b} ≈ {mean:.4f}",
        f"{prior_a} clicks in {prior_a + prior_b} pseudo-impressions",
    )


def pool_adjacent_violators(labels: list[float]) -> list[float]:
    """Isotonic (non-decreasing) least-squares fit of values given in score order."""
    blocks: list[list[float]] = []  # each block: [sum, count]
    for value in labels:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted.extend([total / count] * int(count))
    return fitted


def test_isotonic_calibration_example() -> None:
    qid = "statistics-calibration-platt-vs-isotonic"
    fitted = pool_adjacent_violators([0, 1, 0, 0, 1, 1])
    assert all(a <= b for a, b in itertools.pairwise(fitted))
    written = ", ".join(f"{v:.3f}" if 0 < v < 1 else f"{v:g}" for v in fitted)
    assert_states(qid, f"giving {written}", "mean 1/3")


def test_biased_and_unbiased_variance() -> None:
    qid = "statistics-bessel-correction"
    sample = [2, 4, 4, 4, 5, 5, 7, 9]
    mean = statistics.fmean(sample)
    squared = [(x - mean) ** 2 for x in sample]
    total = sum(squared)
    assert statistics.pvariance(sample) == total / len(sample)
    assert math.isclose(statistics.variance(sample), total / (len(sample) - 1))
    assert_states(
        qid,
        f"{sum(sample)} / {len(sample)} = {mean:g}",
        ", ".join(f"{s:g}" for s in squared[:-2]) + f", {squared[-2]:g} and {squared[-1]:g}",
        f"to {total:g}",
        f"{total:g} / {len(sample)} = {statistics.pvariance(sample):g}",
        f"{total:g} / {len(sample) - 1} ≈ {statistics.variance(sample):.3f}",
        f"about {statistics.stdev(sample):.3f}",
    )


def test_test_set_size_for_an_accuracy_estimate() -> None:
    qid = "statistics-test-set-size-for-accuracy"
    margin = 0.02

    def needed(p: float, half_width: float = margin) -> float:
        return 1.96**2 * p * (1 - p) / half_width**2

    # 1.96 is the two-sided 95% normal quantile
    assert round(Z_975, 2) == 1.96
    assert_states(
        qid,
        f"{1.96**2:.4f} × 0.09 / {margin**2:g} ≈ {needed(0.9):.1f}",
        f"about {math.ceil(needed(0.9))} examples",
        f"≈ {thousands(math.ceil(needed(0.5)))} examples",
    )
    assert math.isclose(needed(0.9, margin / 2) / needed(0.9), 4)  # halving the margin: 4x
    assert_states(qid, "four times as many examples")


def test_zero_failure_upper_bound() -> None:
    qid = "statistics-zero-failures-rule-of-three"
    runs, target = 300, 0.001
    exact_bound = 1 - 0.05 ** (1 / runs)
    runs_needed = math.ceil(math.log(0.05) / math.log(1 - target))
    assert round(-math.log(0.05)) == 3
    assert_states(
        qid,
        f"1 − 0.05^(1/300) ≈ {exact_bound:.4f}",
        f"3 / {runs} = {3 / runs:.0%}",
        f"≈ {thousands(runs_needed)} clean runs",
        f"3 / {target} = {thousands(round(3 / target))}",
    )
