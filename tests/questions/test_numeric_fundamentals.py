"""Recompute the numbers stated in the fundamentals questions (neurons, backprop, epochs)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, prompt, thousands


def test_and_gate_weights() -> None:
    bias, w1, w2 = -1.5, 1.0, 1.0
    rows = []
    for x1 in (0, 1):
        for x2 in (0, 1):
            z = bias + w1 * x1 + w2 * x2
            output = int(z > 0)
            assert output == (x1 and x2), "the stated weights must compute AND"
            rows.append(f"({x1}, {x2}) gives z = {z}, output {output}")
    assert_states(
        "fundamentals-and-gate-perceptron", f"b = {bias}", f"w1 = {w1:g}, w2 = {w2:g}", *rows
    )


def test_neuron_output() -> None:
    x, w = np.array([2, 3, 4]), np.array([4, 5, 6])
    z = int(x @ w)
    assert "x = [2, 3, 4]" in prompt("fundamentals-neuron-output-calculation")
    assert_states(
        "fundamentals-neuron-output-calculation",
        f"= {z}",
        f"3 * {z} = {3 * z}",
        f"{3 * w[0]}*x1 + {3 * w[1]}*x2 + {3 * w[2]}*x3",
    )


def test_backprop_worked_example() -> None:
    x, w1, w2, y, lr = 1.0, 0.5, 2.0, 3.0, 0.1
    z = w1 * x
    h = max(0.0, z)
    y_hat = w2 * h
    loss = 0.5 * (y_hat - y) ** 2
    d_yhat = y_hat - y
    d_w2 = d_yhat * h
    d_w1 = d_yhat * w2 * (1.0 if z > 0 else 0.0) * x
    new_w1, new_w2 = w1 - lr * d_w1, w2 - lr * d_w2
    new_y_hat = new_w2 * max(0.0, new_w1 * x)
    new_loss = 0.5 * (new_y_hat - y) ** 2
    assert_states(
        "fundamentals-backprop-worked-example",
        f"h = ReLU(0.5) = {h}",
        f"ŷ = w2 · h = {y_hat}",
        f"= {loss}",
        f"= {d_w2}",
        f"= {d_w1}",
        f"= {new_w2:g} and w1",
        f"= {new_w1:g}",
        f"ŷ = {new_y_hat:g}",
        f"≈ {new_loss:.3f}",
    )


def test_epoch_batch_iteration() -> None:
    records, batch, epochs = 10_000, 100, 10
    per_epoch = math.ceil(records / batch)
    assert_states(
        "fundamentals-epoch-batch-iteration",
        f"10,000 / 100 = {per_epoch} iterations",
        f"performs {thousands(per_epoch * epochs)} iterations",
    )
