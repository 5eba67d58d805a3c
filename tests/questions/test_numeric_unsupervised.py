"""Recompute the numbers stated in the classical-ml track's unsupervised questions.

The k-means midpoint misassignment, PCA explained variance with and without standardisation,
a Gaussian-mixture responsibility and silhouette values are recomputed with
``statistics.NormalDist`` and numpy.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from tests.questions.numeric import assert_states


def test_kmeans_midpoint_boundary_misassigns_the_diffuse_cluster() -> None:
    qid = "classical-ml-kmeans-unequal-clusters"
    diffuse, tight = NormalDist(0, 2), NormalDist(4, 0.5)
    boundary = (diffuse.mean + tight.mean) / 2
    leaked = 1 - diffuse.cdf(boundary)
    reverse = tight.cdf(boundary)
    assert_states(qid, f"here {boundary:g}", f"1 − Φ(1) ≈ {leaked:.3f}", f"roughly {leaked:.0%}")
    assert_states(qid, f"(about {reverse:.5f})")


def test_pca_explained_variance_unscaled_and_standardised() -> None:
    qid = "classical-ml-pca-feature-scaling"
    sd_income, sd_age, rho = 20_000.0, 10.0, 0.6
    covariance = np.array(
        [[sd_income**2, rho * sd_income * sd_age], [rho * sd_income * sd_age, sd_age**2]]
    )
    values, vectors = np.linalg.eigh(covariance)
    assert values[-1] / values.sum() > 0.9999
    assert abs(abs(vectors[0, -1]) - 1) < 1e-6  # the first component is the income axis
    correlation = covariance / np.outer([sd_income, sd_age], [sd_income, sd_age])
    corr_values, corr_vectors = np.linalg.eigh(correlation)
    assert np.allclose(np.abs(corr_vectors[:, -1]), 1 / math.sqrt(2))
    assert_states(
        qid,
        f"variance 4 × 10^8 against age's {sd_age**2:g}",
        "more than 99.99%",
        f"1 + 0.6 = {corr_values[1]:.1f} and 1 − 0.6 = {corr_values[0]:.1f}",
        f"{corr_values[1]:.1f} / 2 = {corr_values[1] / corr_values.sum():.0%}",
        f"explains {corr_values[0] / corr_values.sum():.0%}",
    )
    assert sd_income**2 == 4e8


def test_gaussian_mixture_responsibility() -> None:
    qid = "classical-ml-gaussian-mixture-em"
    first, second, x = NormalDist(0, 1), NormalDist(3, 1), 1.0
    responsibility = 0.5 * first.pdf(x) / (0.5 * first.pdf(x) + 0.5 * second.pdf(x))
    assert_states(
        qid,
        f"= {math.exp(-0.5):.3f} / ({math.exp(-0.5):.3f} + {math.exp(-2):.3f}) ≈ "
        f"{responsibility:.3f}",
    )


def silhouette(a: float, b: float) -> float:
    return (b - a) / max(a, b)


def test_silhouette_values() -> None:
    qid = "classical-ml-silhouette-score"
    # check the definition on a tiny clustering computed from raw points
    points = np.array([0.0, 1.0, 5.0, 6.0])
    labels = np.array([0, 0, 1, 1])
    a0 = abs(points[0] - points[1])
    b0 = np.mean(np.abs(points[labels == 1] - points[0]))
    assert math.isclose(silhouette(a0, b0), 1 - a0 / b0)
    assert_states(
        qid,
        f"s = (5 − 2) / 5 = {silhouette(2, 5):g}",
        f"s = (3 − 4) / 4 = {silhouette(4, 3):g}",
    )
