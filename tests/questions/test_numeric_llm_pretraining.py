"""Recompute the numbers stated in the language-model pre-training questions (compute-optimal
scaling, over-training, perplexity)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, assert_states_number, thousands


def test_chinchilla_compute_optimal() -> None:
    budget, tokens_per_param = 1e24, 20
    params = math.sqrt(budget / (6 * tokens_per_param))
    tokens = tokens_per_param * params
    chinchilla_tokens = tokens_per_param * 70e9
    assert_states(
        "llms-chinchilla-compute-optimal",
        f"N = sqrt(C / {6 * tokens_per_param})",
        f"{params / 1e9:.1f}B",
        f"{tokens / 1e12:.2f}T",
        f"{chinchilla_tokens / 1e12:.1f}T",
        f"{6 * 70e9 * chinchilla_tokens:.2e}".replace("e+", "e"),
    )


def test_overtraining_beyond_chinchilla() -> None:
    params, tokens = 8e9, 15e12
    ratio = tokens / params
    flops = 6 * params * tokens
    optimal_params = math.sqrt(flops / 120)
    assert_states(
        "llms-overtraining-beyond-chinchilla",
        thousands(round(ratio)),
        f"{ratio / 20:g}",
        f"{flops:.1e}".replace("e+", "e"),
        f"{optimal_params / 1e9:.0f}B",
        f"{20 * optimal_params / 1e12:.2f}T",
    )


def test_perplexity() -> None:
    probs = np.array([0.5, 0.25, 0.125, 0.5])
    bits = float(-np.log2(probs).mean())
    nats = float(-np.log(probs).mean())
    assert_states("llms-perplexity-numeric", f"{bits:g} bits", f"{nats:.3f}")
    assert_states_number("llms-perplexity-numeric", math.exp(nats), 2**bits)
