"""Recompute the numbers stated in the llm-engineering track's llm-applications questions.

Chunk counts and vector memory (by actually chunking a token range), reciprocal rank fusion,
retrieval metrics, compounding false blocks of guardrails and LoRA adapter sizes are
recomputed from their definitions.
"""

from __future__ import annotations

import math

from tests.questions.numeric import assert_states, thousands


def chunk_spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Token spans [start, end) of fixed-size chunks with overlap covering a document."""
    spans, start = [], 0
    while True:
        spans.append((start, min(start + size, length)))
        if start + size >= length:
            return spans
        start += size - overlap


def test_chunk_count_vector_memory_and_overlap_cost() -> None:
    qid = "llm-engineering-rag-chunking-index-sizing"
    documents, length, size, overlap, dim = 20_000, 3_000, 512, 64, 1_024
    spans = chunk_spans(length, size, overlap)
    formula = 1 + math.ceil((length - size) / (size - overlap))
    assert len(spans) == formula
    chunks = documents * len(spans)
    vector_bytes = chunks * dim * 4
    embedded = sum(end - start for start, end in spans)
    assert embedded == length + (len(spans) - 1) * overlap
    assert_states(
        qid,
        f"advances by s − o = {size - overlap} tokens",
        f"1 + ⌈{thousands(length - size)} / {size - overlap}⌉ = {len(spans)} chunks",
        f"{thousands(chunks)} chunks in total",
        f"{thousands(chunks)} × {thousands(dim * 4)} = {thousands(vector_bytes)} bytes",
        f"about {vector_bytes / 1e6:.0f} MB",
        f"{thousands(length)} + {len(spans) - 1} × {overlap} = {thousands(embedded)}",
        f"about {embedded / length - 1:.1%} more",
    )


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1 / (k + rank)
    return scores


def test_reciprocal_rank_fusion_order() -> None:
    qid = "llm-engineering-hybrid-search-rrf"
    scores = reciprocal_rank_fusion([["D1", "D2", "D3", "D4"], ["D3", "D1", "D5", "D2"]])
    order = sorted(scores, key=lambda doc: -scores[doc])
    assert_states(qid, f"The fused order is {', '.join(order[:-1])}, {order[-1]}")
    for doc in order[:-1]:
        assert_states(qid, f"{doc} gets", f"≈ {scores[doc]:.5f}")
    assert scores["D4"] == 1 / 64
    assert_states(qid, f"D4 gets 1/64 = {scores['D4']}")


def test_hit_rate_mrr_and_ndcg() -> None:
    qid = "llm-engineering-retrieval-metrics"
    first_relevant = [1, 3, None]
    hit_rate = sum(r is not None and r <= 5 for r in first_relevant) / len(first_relevant)
    mrr = sum(1 / r if r else 0 for r in first_relevant) / len(first_relevant)
    dcg = sum(1 / math.log2(rank + 1) for rank in (1, 4))
    ideal = sum(1 / math.log2(rank + 1) for rank in (1, 2))
    assert_states(
        qid,
        f"2 of 3, about {hit_rate:.3f}",
        f"(1 + 1/3 + 0) / 3 ≈ {mrr:.3f}",
        f"1 + {1 / math.log2(5):.3f} = {dcg:.3f}",
        f"1 + 1 / log2(3) = {ideal:.3f}",
        f"{dcg:.3f} / {ideal:.3f} ≈ {dcg / ideal:.3f}",
    )


def test_compounding_false_blocks() -> None:
    qid = "llm-engineering-guardrails-layers"
    per_check, checks = 0.02, 3
    blocked = 1 - (1 - per_check) ** checks
    assert_states(qid, f"1 − 0.98³ ≈ {blocked:.1%}")


def test_lora_adapter_size_for_multi_tenant_serving() -> None:
    qid = "llm-engineering-lora-multi-tenant-choice"
    rank, layers, hidden, kv_width, mlp = 16, 32, 4_096, 1_024, 14_336
    projections = {
        "q": (hidden, hidden),
        "k": (hidden, kv_width),
        "v": (hidden, kv_width),
        "o": (hidden, hidden),
        "gate": (hidden, mlp),
        "up": (hidden, mlp),
        "down": (mlp, hidden),
    }
    per_matrix = {name: rank * (d_in + d_out) for name, (d_in, d_out) in projections.items()}
    per_layer = sum(per_matrix.values())
    adapter = per_layer * layers
    adapter_bytes = adapter * 2
    full_copy_bytes = 8e9 * 2
    customers = 100
    assert_states(
        qid,
        f"= {thousands(per_matrix['q'])} each",
        f"= {thousands(per_matrix['k'])} each",
        f"= {thousands(per_matrix['gate'])} each",
        f"{thousands(per_layer)} per layer and {thousands(adapter)} for 32",
        f"about {adapter_bytes / 1e6:.0f} MB in bf16",
        f"about {full_copy_bytes / 1e9:.0f} GB in bf16",
        f"about {customers * full_copy_bytes / 1e12:.1f} TB",
        f"about {customers * adapter_bytes / 1e9:.1f} GB of adapters",
    )
