"""Recompute the numbers in the ml-system-design ml-platform topic: vector index memory."""

from __future__ import annotations

from tests.questions.numeric import assert_states, thousands


def test_vector_search_memory() -> None:
    qid = "ml-system-design-vector-search-service"
    vectors, dim, pq_bytes = 1_000_000_000, 768, 96
    float32_bytes = vectors * dim * 4
    float16_bytes = vectors * dim * 2
    pq_total = vectors * pq_bytes
    assert_states(
        qid,
        f"{thousands(vectors)} × {dim} × 4 bytes = {float32_bytes / 1e12:.3f} TB",
        f"{float16_bytes / 1e12:.3f} TB in float16",
        f"take {pq_total / 1e9:.0f} GB, a {dim * 4 // pq_bytes}-fold reduction",
    )
