"""Recompute the numbers stated in the activations questions (softmax, Swish, slopes, init)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, fmt_list, softmax


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_softmax_of_vector() -> None:
    logits = [1, 2, 3, 4, 1, 2, 3]
    scaled = [v / 10 for v in logits]
    assert_states(
        "activations-softmax-of-vector",
        fmt_list(softmax(logits), 3),
        fmt_list(softmax(scaled), 3),
        f"0.4 / 1.6 = {0.4 / 1.6:.2f}",
    )


def test_softmax_stable_large_logits() -> None:
    logits = np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(logits) / np.exp(logits).sum()
    assert np.isnan(naive).all(), "the prompt's claim that the naive formula gives NaN"
    assert_states("activations-softmax-numerical-stability", fmt_list(softmax(logits), 3))


def test_softmax_temperature() -> None:
    logits = [2.0, 1.0, 0.1]
    assert_states(
        "activations-softmax-temperature",
        fmt_list(softmax(logits, 1), 3),
        fmt_list(softmax(logits, 2), 3),
    )


def test_he_and_xavier_std() -> None:
    he = math.sqrt(2 / 512)
    xavier = math.sqrt(2 / (512 + 512))
    assert_states(
        "activations-initialisation-pairing", f"sqrt(2 / 512) = {he:.4f}", f"≈ {xavier:.4f}"
    )


def test_swish_values_and_minimum() -> None:
    xs = np.linspace(-3.0, 0.0, 300_001)
    swish = xs / (1.0 + np.exp(-xs))
    i = int(np.argmin(swish))
    assert_states(
        "activations-swish",
        f"minimum of about {swish[i]:.3f} near x = {xs[i]:.3f}",
        f"swish(1) ≈ {1 * _sigmoid(1):.3f}",
        f"swish(-1) ≈ {-1 * _sigmoid(-1):.3f}",
        "x / 2",
    )


def test_leaky_relu_value() -> None:
    alpha, x = 0.01, -5.0
    assert_states("activations-relu-vs-leaky-relu", "α = 0.01", f"f(-5) = {max(alpha * x, x):.2f}")


def test_sigmoid_and_tanh_derivatives() -> None:
    xs = np.linspace(-10, 10, 200_001)
    s = 1 / (1 + np.exp(-xs))
    sigmoid_max = float((s * (1 - s)).max())
    np.testing.assert_allclose(np.tanh(xs), 2 / (1 + np.exp(-4 * xs / 2)) - 1, atol=1e-12)
    tanh_at_zero = 1 - math.tanh(0.0) ** 2
    sigmoid_at_zero = _sigmoid(0.0) * (1 - _sigmoid(0.0))
    assert_states(
        "activations-sigmoid-tanh-hidden-layers",
        "tanh(x) = 2σ(2x) - 1",
        f"derivative of tanh is {tanh_at_zero:g}",
        f"is {sigmoid_at_zero:g}, four times smaller",
        f"at most {sigmoid_max:.2f}",
    )
    assert tanh_at_zero / sigmoid_at_zero == 4
