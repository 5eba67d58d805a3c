"""Recompute the numbers stated in the RNN questions (parameter counts, shapes, BPTT)."""

from __future__ import annotations

import math

from tests.questions.numeric import assert_states, question, thousands


def _gated_rnn_params(blocks: int, inputs: int, hidden: int, biases_per_block: int) -> int:
    return blocks * (hidden * (hidden + inputs) + biases_per_block * hidden)


def test_lstm_and_gru_parameter_counts_in_both_conventions() -> None:
    x, h = 100, 128
    weights = h * (h + x)
    pytorch_lstm = _gated_rnn_params(4, x, h, biases_per_block=2)
    pytorch_gru = _gated_rnn_params(3, x, h, biases_per_block=2)
    one_bias_lstm = _gated_rnn_params(4, x, h, biases_per_block=1)
    one_bias_gru = _gated_rnn_params(3, x, h, biases_per_block=1)
    assert_states(
        "rnn-lstm-vs-gru",
        f"128 × (128 + 100) = {thousands(weights)} weights",
        f"4 × ({thousands(weights)} + 2 × 128) = {thousands(pytorch_lstm)}",
        f"3 × ({thousands(weights)} + 2 × 128) = {thousands(pytorch_gru)}",
        f"4 × (128 × (128 + 100) + 128) = {thousands(one_bias_lstm)}",
        f"3 × (128 × 228 + 128) = {thousands(one_bias_gru)}",
    )
    key_points = question("rnn-lstm-vs-gru")["key_points"]
    rubric = " ".join(point["text"] + " " + " ".join(point["accept"]) for point in key_points)
    for count in (pytorch_lstm, pytorch_gru, one_bias_lstm, one_bias_gru):
        assert thousands(count) in rubric, f"the rubric must accept {thousands(count)}"


def test_simple_rnn_parameter_count() -> None:
    x, h, classes = 50, 100, 10
    cell = x * h + h * h + h
    assert_states(
        "rnn-simple-rnn-parameters",
        f"{thousands(cell)} parameters",
        f"100 × 10 + 10 = {thousands(h * classes + classes)}",
        f"giving {thousands(cell + h)}",
    )


def test_truncated_bptt_updates() -> None:
    assert_states("rnn-truncated-bptt", f"that is {math.ceil(1000 / 100)} updates per sequence")


def test_pytorch_lstm_shapes() -> None:
    batch, steps, hidden, layers, directions = 8, 20, 64, 2, 2
    assert_states(
        "rnn-pytorch-lstm-shapes",
        str((batch, steps, directions * hidden)),
        str((layers * directions, batch, hidden)),
    )


def test_forget_gate_bias_values() -> None:
    assert_states(
        "rnn-lstm-forget-gate-bias",
        f"0.5^10 ≈ {0.5**10:.3f}",
        f"σ(1) ≈ {1 / (1 + math.exp(-1)):.2f}",
    )
