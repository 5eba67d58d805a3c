"""Recompute the numbers stated in the LLM serving questions (sampling, KV cache capacity,
speculative decoding)."""

from __future__ import annotations

import numpy as np

from tests.questions.numeric import assert_states, softmax


def test_temperature_and_top_p() -> None:
    logits = [2.0, 1.0, 0.0]
    at_one, at_half = softmax(logits, 1.0), softmax(logits, 0.5)
    cumulative = np.cumsum(at_one)
    kept = int(np.searchsorted(cumulative, 0.9) + 1)
    nucleus = at_one[:kept] / at_one[:kept].sum()
    assert_states(
        "llms-temperature-top-p-numeric",
        *(f"{p:.3f}" for p in [*at_one, *at_half, cumulative[kept - 1], *nucleus]),
        f"keeps the first {['one', 'two', 'three'][kept - 1]} tokens",
    )


def test_kv_cache_capacity() -> None:
    layers, kv_heads, query_heads, head_dim, fp16_bytes = 80, 8, 64, 128, 2
    per_token = 2 * layers * kv_heads * head_dim * fp16_bytes
    per_sequence_gib = per_token * 8192 / 2**30
    free_gib = 40
    mha_gib = per_sequence_gib * query_heads / kv_heads
    fp8_gib = per_sequence_gib / 2
    assert_states(
        "scale-inference-kv-cache-capacity",
        f"{per_token:,} bytes = {per_token // 2**10} KiB",
        f"{per_token * 8192:,} bytes = {per_sequence_gib:g} GiB",
        f"= {int(free_gib // per_sequence_gib)} concurrent sequences",
        f"{mha_gib:g} GiB per sequence, so only {int(free_gib // mha_gib)}",
        f"{fp8_gib:g} GiB per sequence and {int(free_gib // fp8_gib)}",
    )


def test_speculative_decoding_expected_tokens() -> None:
    alpha, k = 0.8, 4
    expected = sum(alpha**i for i in range(k + 1))  # accepted prefix plus the bonus token
    assert_states(
        "scale-inference-speculative-decoding",
        f"{alpha ** (k + 1):.5f}",
        f"{expected:.4f} tokens",
    )
