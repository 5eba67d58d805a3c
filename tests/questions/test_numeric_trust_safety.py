"""Recompute the numbers in the ml-system-design trust-safety topic.

Reviewer capacity against comment volume, and the pair count and MinHash-LSH candidate
probabilities of near-duplicate detection (checked against a simulation of banded signatures).
"""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, thousands


def test_reviewer_capacity_share() -> None:
    qid = "ml-system-design-multilingual-comment-moderation"
    reviewers, per_shift, comments = 40, 400, 5_000_000
    capacity = reviewers * per_shift
    assert_states(
        qid,
        f"{reviewers} × {per_shift} = {thousands(capacity)} comments a day",
        f"only {capacity / comments:.2%} of the 5 million",
    )


def lsh_candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return 1 - (1 - similarity**rows) ** bands


def test_minhash_lsh_candidate_probabilities() -> None:
    qid = "ml-system-design-near-duplicate-listings"
    listings, bands, rows = 100_000_000, 20, 5
    pairs = math.comb(listings, 2)
    assert f"{pairs:.0e}" == "5e+15"
    high = lsh_candidate_probability(0.8, bands, rows)
    low = lsh_candidate_probability(0.3, bands, rows)
    # a simulated band match: each MinHash row agrees with probability equal to the similarity
    rng = np.random.default_rng(23)
    for similarity, expected in ((0.8, high), (0.3, low)):
        agree = rng.random((100_000, bands, rows)) < similarity
        simulated = agree.all(axis=2).any(axis=1).mean()
        assert abs(simulated - expected) < 0.003
    assert_states(
        qid,
        "about 5 × 10^15 pairs",
        f"1 − (1 − s^{rows})^{bands}",
        f"about {high:.4f} at s = 0.8",
        f"only about {low:.3f} at s = 0.3",
    )
