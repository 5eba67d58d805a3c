"""Recompute the numbers stated in the attention and transformer questions."""

from __future__ import annotations

import math

from tests.questions.numeric import assert_states, thousands

MIB = 1024**2
GIB = 1024**3


def test_sqrt_dk_scaling() -> None:
    d_k, component_variance = 64, 1.0
    variance = d_k * component_variance**2  # a sum of d_k independent unit-variance products
    std = math.sqrt(variance)
    assert_states(
        "attention-transformers-sqrt-dk-scaling",
        f"variance is {variance:g}",
        f"standard deviation is {std:g}",
        f"sqrt(d_k) = {std:g}",
    )


def test_multi_head_dimension() -> None:
    d_model, heads = 512, 8
    assert_states("attention-transformers-multi-head-attention", f"d_k = {d_model // heads}")


def test_alibi_slopes_for_eight_heads() -> None:
    heads = 8
    slopes = [2 ** (-8 * (i + 1) / heads) for i in range(heads)]
    first, second, last = (round(1 / s) for s in (slopes[0], slopes[1], slopes[-1]))
    assert_states("attention-transformers-alibi", f"1/{first}, 1/{second}, ..., 1/{last}")


def test_attention_score_matrix_memory() -> None:
    seq_len, fp16_bytes, heads = 8192, 2, 32
    entries = seq_len**2
    per_head = entries * fp16_bytes
    assert_states(
        "attention-transformers-quadratic-complexity",
        thousands(entries),
        thousands(per_head),
        f"{per_head // MIB} MiB",
        f"{per_head * heads // GIB} GiB for {heads} heads",
    )


def test_transformer_base_layer_parameter_count() -> None:
    d_model, d_ff = 512, 2048
    attention = 4 * (d_model * d_model + d_model)
    ffn_in, ffn_out = d_model * d_ff + d_ff, d_ff * d_model + d_model
    layer_norms = 2 * 2 * d_model
    total = attention + ffn_in + ffn_out + layer_norms
    assert_states(
        "attention-transformers-layer-parameter-count",
        thousands(attention),
        thousands(ffn_in),
        thousands(ffn_out),
        thousands(ffn_in + ffn_out),
        thousands(layer_norms),
        thousands(total),
        thousands(4 * d_model**2 + 2 * d_model * d_ff),
    )


def test_vit_patch_tokens() -> None:
    image, patch, channels = 224, 16, 3
    patches = (image // patch) ** 2
    assert_states(
        "attention-transformers-vit-patches",
        f"{patches} patches",
        f"{patches + 1} tokens",
        f"16 × 16 × 3 = {patch * patch * channels}",
    )


def test_gqa_cache_reduction() -> None:
    query_heads, kv_heads, head_dim, fp16 = 32, 8, 128, 2
    ratio = (2 * query_heads * head_dim * fp16) // (2 * kv_heads * head_dim * fp16)
    assert_states(
        "attention-transformers-mqa-gqa",
        f"{ratio}× for {query_heads} query heads sharing {kv_heads} KV heads",
    )


def test_mla_cache_per_token() -> None:
    latent, rope_key, heads, head_dim = 512, 64, 128, 128
    mla, mha = latent + rope_key, 2 * heads * head_dim
    assert_states(
        "attention-transformers-multi-head-latent-attention",
        f"caches {mla} values",
        thousands(mha),
        f"about {round(mha / mla)}× smaller",
        f"{mla / (2 * head_dim):g} groups",
    )
