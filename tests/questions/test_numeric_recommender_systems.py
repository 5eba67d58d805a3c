"""Recompute the numbers stated in the recommender-systems references: matrix-factorisation
predictions and sizes, ranking metrics, position-bias corrected relevance, ESMM, factorisation
machine sizes, ANN index memory and MMR scores."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, thousands

GIB = 1024**3


def test_matrix_factorisation_prediction_and_size() -> None:
    qid = "recommender-systems-matrix-factorisation"
    user, item = np.array([1.0, 0.5]), np.array([2.0, -1.0])
    dot = float(user @ item)
    rating = 3.5 + 0.2 - 0.3 + dot
    users, items, rank = 1_000_000, 100_000, 64
    assert_states(
        qid,
        f"= {dot:.1f}, so r_hat = 3.5 + 0.2 - 0.3 + {dot:.1f} = {rating:.1f}",
        f"× 64 = {thousands((users + items) * rank)} factor parameters",
        f"plus {thousands(users + items)} biases",
        f"against {thousands(users * items)} cells",
    )


def dcg(relevances: list[int]) -> float:
    return sum(rel / math.log2(position + 2) for position, rel in enumerate(relevances))


def test_recall_and_ndcg_at_5() -> None:
    qid = "recommender-systems-recall-ndcg-example"
    ranked = [1, 0, 1, 0, 1]
    relevant_total = 4
    precision = sum(ranked) / len(ranked)
    recall = sum(ranked) / relevant_total
    actual = dcg(ranked)
    ideal = dcg([1] * relevant_total + [0])
    ndcg = actual / ideal
    # Swapping the first hit with the miss below it keeps recall but lowers NDCG.
    assert dcg([0, 1, 1, 0, 1]) < actual
    assert_states(
        qid,
        f"Precision@5 = 3 / 5 = {precision:.1f} and recall@5 = 3 / 4 = {recall:.2f}",
        f"= 1 + 0.5 + {1 / math.log2(6):.3f} = {actual:.3f}",
        f"= 1 + {1 / math.log2(3):.3f} + 0.5 + {1 / math.log2(5):.3f} = {ideal:.3f}",
        f"NDCG@5 = {actual:.3f} / {ideal:.3f} = {ndcg:.3f}",
    )


def test_position_bias_corrected_relevance() -> None:
    qid = "recommender-systems-position-bias"
    relevance_a = 90 / (1_000 * 0.9)
    relevance_b = 45 / (1_000 * 0.3)
    assert relevance_b > relevance_a  # B wins despite half the clicks
    assert_states(
        qid,
        f"90 / (1,000 × 0.9) = {relevance_a:.2f}",
        f"45 / (1,000 × 0.3) = {relevance_b:.2f}",
    )


def test_esmm_click_then_purchase() -> None:
    qid = "recommender-systems-multi-task-ranking-esmm"
    ctcvr = 0.05 * 0.1
    assert_states(
        qid, f"0.05 × 0.1 = {ctcvr:.3f}", f"or {round(ctcvr * 1_000)} purchases per 1,000"
    )


def test_factorisation_machine_sizes() -> None:
    qid = "recommender-systems-factorisation-machines"
    features, factors = 1_000_000, 16
    pairs = features * (features - 1) // 2
    assert_states(
        qid,
        f"n(n - 1) / 2 = {thousands(pairs)} interaction weights",
        f"about {pairs:.0e}".replace("e+", "e"),
        f"n × k = {thousands(features * factors)} factor parameters",
    )
    # The O(kn) identity for the pairwise term, checked on random data.
    rng = np.random.default_rng(0)
    v, x = rng.standard_normal((30, 4)), rng.standard_normal(30)
    brute = sum(float(v[i] @ v[j]) * x[i] * x[j] for i in range(30) for j in range(i + 1, 30))
    fast = 0.5 * float(
        (((v * x[:, None]).sum(axis=0)) ** 2 - ((v**2) * (x**2)[:, None]).sum(0)).sum()
    )
    assert math.isclose(brute, fast, rel_tol=1e-9)


def test_ann_index_memory() -> None:
    qid = "recommender-systems-ann-index-memory"
    vectors, dim, subvectors = 100_000_000, 128, 16
    raw = vectors * dim * 4
    compressed = vectors * subvectors
    assert_states(
        qid,
        f"× 4 bytes = {raw / 1e9:.1f} GB ({raw / GIB:.1f} GiB)",
        f"{vectors * dim / 1e9:.1f} billion multiply-adds",
        f"{subvectors} sub-vectors of {dim // subvectors} dimensions",
        f"the whole set {compressed / 1e9:.1f} GB, {raw // compressed} times smaller",
    )


def test_mmr_scores() -> None:
    qid = "recommender-systems-mmr-diversity"
    lam = 0.7

    def mmr(relevance: float, similarity: float) -> float:
        return lam * relevance - (1 - lam) * similarity

    score_a, score_b = mmr(0.9, 0.8), mmr(0.7, 0.1)
    assert score_b > score_a
    assert_states(
        qid,
        f"= {lam * 0.9:.2f} - {(1 - lam) * 0.8:.2f} = {score_a:.2f}",
        f"= {lam * 0.7:.2f} - {(1 - lam) * 0.1:.2f} = {score_b:.2f}",
    )
