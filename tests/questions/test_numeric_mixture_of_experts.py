"""Recompute the numbers stated in the mixture-of-experts references: top-k gate weights, the
Switch load-balancing loss, capacity and dropped tokens, Mixtral-style parameter counts, expert
reads per decoding step, all-to-all volume, expert combinations and the FFN share of a block."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, softmax, thousands

MIB = 1024**2


def test_top_2_gate_weights() -> None:
    qid = "mixture-of-experts-top-k-gating"
    logits = np.array([2.0, 1.0, 0.5, -1.0])
    probabilities = softmax(logits)
    chosen = np.argsort(logits)[::-1][:2]
    assert list(chosen) == [0, 1]
    weights = probabilities[chosen] / probabilities[chosen].sum()
    # Renormalising is the same as a softmax over the chosen logits only.
    assert np.allclose(weights, softmax(logits[chosen]))
    assert_states(
        qid,
        "about "
        + ", ".join(f"{p:.3f}" for p in probabilities[:3])
        + f" and {probabilities[3]:.3f}",
        f"{probabilities[0]:.3f} / ({probabilities[0]:.3f} + {probabilities[1]:.3f}) = "
        f"{weights[0]:.3f} and {weights[1]:.3f}",
        f"1 / (1 + e^-1) = {1 / (1 + math.exp(-1)):.3f}",
        f"{weights[0]:.3f} × E1(x) + {weights[1]:.3f} × E2(x)",
    )


def test_switch_load_balancing_loss() -> None:
    qid = "mixture-of-experts-load-balancing-loss"
    fractions = np.array([0.4, 0.3, 0.2, 0.1])
    probabilities = np.array([0.35, 0.3, 0.2, 0.15])
    alpha, experts = 0.01, 4
    products = fractions * probabilities
    total = float(products.sum())
    balanced = experts * float((np.full(experts, 1 / experts) ** 2).sum())
    assert math.isclose(balanced, 1.0)
    assert_states(
        qid,
        " + ".join(f"{p:g}" for p in products) + f" = {total:.3f}",
        f"N × {total:.3f} = {experts * total:.2f}",
        f"0.01 × 1.14 = {alpha * experts * total:.4f}",
        f"the loss is {alpha * balanced:.2f}",
    )


def test_capacity_and_dropped_tokens() -> None:
    qid = "mixture-of-experts-capacity-factor-dropping"
    loads = np.array([900, 700, 600, 500, 450, 400, 300, 246])
    tokens, experts, factor = int(loads.sum()), len(loads), 1.25
    assert tokens == 4_096
    capacity = int(tokens / experts * factor)
    overflow = np.maximum(loads - capacity, 0)
    dropped = int(overflow.sum())
    slots = experts * capacity
    processed = tokens - dropped
    empty = slots - processed
    wide_capacity = int(tokens / experts * 2.0)
    assert (loads <= wide_capacity).all()
    assert_states(
        qid,
        f"512 × 1.25 = {capacity} token slots",
        f"overflows by {overflow[0]} and the one with 700 by {overflow[1]}, so {dropped} tokens",
        f"{dropped} / 4,096 = {100 * dropped / tokens:.1f}%",
        f"8 × {capacity} = {thousands(slots)} slots",
        f"4,096 - 320 = {thousands(processed)}",
        f"{thousands(empty)} slots, {100 * empty / slots:.2f}%",
        f"({thousands(wide_capacity)} slots)",
        f"half of the {thousands(experts * wide_capacity)} slots",
    )


def test_mixtral_style_parameter_count() -> None:
    qid = "mixture-of-experts-active-vs-total-parameters"
    layers, d_model, d_ff, experts, top_k = 32, 4_096, 14_336, 8, 2
    q_heads, kv_heads, head_dim, vocab = 32, 8, 128, 32_000
    per_expert = 3 * d_model * d_ff
    expert_total = per_expert * experts * layers
    attention_layer = 2 * d_model * q_heads * head_dim + 2 * d_model * kv_heads * head_dim
    attention_total = attention_layer * layers
    embeddings = 2 * vocab * d_model
    routers = d_model * experts * layers
    norms = 2 * d_model * layers + d_model
    shared = attention_total + embeddings + routers + norms
    total = expert_total + shared
    active_experts = top_k * layers * per_expert
    active = active_experts + shared
    assert_states(
        qid,
        f"3 × 4,096 × 14,336 = {thousands(per_expert)}",
        f"experts hold {thousands(expert_total)}, about {expert_total / 1e9:.1f}B",
        f"totalling {thousands(attention_layer)}, or {thousands(attention_total)}",
        f"2 × 32,000 × 4,096 = {thousands(embeddings)}",
        f"{thousands(routers)} in total",
        f"norms ({thousands(norms)})",
        f"The total is {thousands(total)}, about {total / 1e9:.1f}B",
        f"176,160,768 = {thousands(active_experts)}",
        f"is {thousands(active)}, about {active / 1e9:.1f}B",
    )


def test_expert_reads_per_decoding_step() -> None:
    qid = "mixture-of-experts-inference-memory-batching"
    total_params, experts, top_k = 46.7e9, 8, 2
    skip = 1 - top_k / experts

    def expected_touched(tokens: int) -> float:
        return experts * (1 - skip**tokens)

    # Monte Carlo check of the closed form for 4 tokens with uniform top-2 routing.
    rng = np.random.default_rng(0)
    trials = 4_000
    touched = [
        len({e for _ in range(4) for e in rng.choice(experts, top_k, replace=False)})
        for _ in range(trials)
    ]
    assert abs(np.mean(touched) - expected_touched(4)) < 0.05
    assert expected_touched(1) == top_k
    assert_states(
        qid,
        f"46.7B × 2 bytes = {total_params * 2 / 1e9:.1f} GB",
        f"halves it to {total_params / 1e9:.1f} GB",
        f"probability 6/8 = {skip:.2f}",
        f"8 × (1 - {skip**4:.3f}) = {expected_touched(4):.2f} experts",
        f"0.75^64 is about {skip**64:.1e}".replace("e-0", "e-"),
    )


def test_all_to_all_dispatch_volume() -> None:
    qid = "mixture-of-experts-expert-parallelism-all-to-all"
    tokens, top_k, d_model, bytes_per_value, devices = 8_192, 2, 4_096, 2, 8
    volume = tokens * top_k * d_model * bytes_per_value
    assert_states(
        qid,
        f"= {thousands(volume)} bytes, that is {volume // MIB} MiB",
        f"7/8 of it, {volume * (devices - 1) // devices // MIB} MiB",
    )


def test_fine_grained_expert_combinations() -> None:
    qid = "mixture-of-experts-fine-grained-shared-experts"
    coarse = math.comb(16, 2)
    fine = math.comb(16 * 4, 2 * 4)
    assert_states(qid, f"C(16, 2) = {coarse}", f"8) = {thousands(fine)}")


def test_ffn_share_of_block_weights() -> None:
    qid = "mixture-of-experts-which-layers-become-experts"
    d = 1  # shares do not depend on d_model
    ffn = 2 * d * 4 * d
    attention = 4 * d * d
    assert ffn == 8 and attention == 4
    assert math.isclose(ffn / (ffn + attention), 2 / 3)
    assert_states(qid, f"= {ffn}d^2 weights against {attention}d^2", "8 / 12 = 2/3")
