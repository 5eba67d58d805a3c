"""Recompute the numbers stated in numerical and code-reading bank questions.

Each test recomputes a value (by formula or with numpy) and asserts that the value, written the
way the reference writes it, appears in that question's reference answer. A reference that states
a wrong number therefore fails here. Questions are looked up by id in the validated bank (tests/questions/bank_lookup.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions

_all_questions = bank_questions


def question(question_id: str) -> dict[str, Any]:
    questions = _all_questions()
    assert question_id in questions, f"question {question_id!r} not found in {QUESTIONS_DIR}"
    return questions[question_id]


def _normalise(text: str) -> str:
    """Collapse whitespace and write the typographic minus sign (U+2212) as an ASCII hyphen."""
    return " ".join(str(text).replace("\u2212", "-").split())


def reference(question_id: str) -> str:
    return _normalise(question(question_id)["reference"])


def prompt(question_id: str) -> str:
    return _normalise(question(question_id)["prompt"])


def assert_in_reference(question_id: str, *expected: str) -> None:
    text = reference(question_id)
    for value in expected:
        assert _normalise(value) in text, f"{question_id}: expected {value!r} in the reference"


def fmt_list(values: Any, decimals: int | None = None) -> str:
    """Format a 1-D or 2-D array the way references write it: [1, 2] or [0.024, 0.064]."""
    array = np.asarray(values)
    if array.ndim > 1:
        return "[" + ", ".join(fmt_list(row, decimals) for row in array) + "]"
    if decimals is None:
        return "[" + ", ".join(str(int(v)) for v in array) + "]"
    return "[" + ", ".join(f"{v:.{decimals}f}" for v in array) + "]"


def softmax(logits: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def conv_output_size(size: int, kernel: int, padding: int, stride: int) -> int:
    return (size - kernel + 2 * padding) // stride + 1


# --- fundamentals ---------------------------------------------------------------------------


def test_and_gate_weights() -> None:
    bias, w1, w2 = -1.5, 1.0, 1.0
    truth = {}
    for x1 in (0, 1):
        for x2 in (0, 1):
            z = bias + w1 * x1 + w2 * x2
            truth[(x1, x2)] = (z, int(z > 0))
    assert all(out == (x1 and x2) for (x1, x2), (_, out) in truth.items())
    assert_in_reference(
        "fundamentals-and-gate-perceptron",
        f"b = {bias}",
        f"w1 = {w1:g}, w2 = {w2:g}",
        f"(0, 0) gives z = {truth[(0, 0)][0]}, output {truth[(0, 0)][1]}",
        f"(0, 1) gives z = {truth[(0, 1)][0]}, output {truth[(0, 1)][1]}",
        f"(1, 0) gives z = {truth[(1, 0)][0]}, output {truth[(1, 0)][1]}",
        f"(1, 1) gives z = {truth[(1, 1)][0]}, output {truth[(1, 1)][1]}",
    )


def test_neuron_output() -> None:
    x, w = np.array([2, 3, 4]), np.array([4, 5, 6])
    z = int(x @ w)
    assert "x = [2, 3, 4]" in prompt("fundamentals-neuron-output-calculation")
    assert_in_reference(
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
    new_h = max(0.0, new_w1 * x)
    new_y_hat = new_w2 * new_h
    new_loss = 0.5 * (new_y_hat - y) ** 2
    assert_in_reference(
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


# --- activations ----------------------------------------------------------------------------


def test_softmax_of_vector() -> None:
    logits = [1, 2, 3, 4, 1, 2, 3]
    scaled = [v / 10 for v in logits]
    assert_in_reference(
        "activations-softmax-of-vector",
        fmt_list(softmax(logits), 3),
        fmt_list(softmax(scaled), 3),
        f"0.4 / 1.6 = {0.4 / 1.6:.2f}",
    )


def test_softmax_stable_large_logits() -> None:
    logits = np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(logits) / np.exp(logits).sum()
    assert np.isnan(naive).all()
    stable = softmax(logits)
    np.testing.assert_allclose(stable, softmax([0, 1, 2]))
    assert_in_reference("activations-softmax-numerical-stability", fmt_list(stable, 3))


def test_softmax_temperature() -> None:
    logits = np.array([2.0, 1.0, 0.1])
    assert_in_reference(
        "activations-softmax-temperature",
        fmt_list(softmax(logits / 1), 3),
        fmt_list(softmax(logits / 2), 3),
    )


def test_he_and_xavier_std() -> None:
    he = math.sqrt(2 / 512)
    xavier = math.sqrt(2 / (512 + 512))
    assert_in_reference(
        "activations-initialisation-pairing", f"sqrt(2 / 512) = {he:.4f}", f"≈ {xavier:.4f}"
    )


# --- frameworks (TensorFlow 1.x snippets simulated with numpy) ------------------------------


def test_tf1_constant_add() -> None:
    result = np.add(np.array([2], dtype=np.int32), np.array([3], dtype=np.int32))
    assert_in_reference("frameworks-tf1-constant-add-session", f"It prints {result}")


def test_tf1_variable_counter() -> None:
    state, printed = 0, []
    printed.append(state)
    for _ in range(2):
        state = state + 1
        printed.append(state)
    assert "range(2)" in prompt("frameworks-tf1-variable-counter")
    assert_in_reference(
        "frameworks-tf1-variable-counter",
        f"It prints {printed[0]}, {printed[1]} and {printed[2]}",
    )


def test_tf1_placeholder_feed() -> None:
    result = np.float32(3.5) * np.float32(2)
    assert_in_reference("frameworks-tf1-placeholder-feed", f"It prints {float(result)}")


def test_tf1_add_subtract() -> None:
    a, b = 6, 2
    assert_in_reference(
        "frameworks-tf1-add-subtract",
        f'"c =: {a + b}"',
        f'"d =: {a - b}"',
        f"returns [{a + b}, {a - b}]",
    )


def test_matmul_shape_error_and_fixes() -> None:
    matrix = np.array([[1, 2, 3], [2, 3, 4]])
    with pytest.raises(ValueError):
        matrix @ matrix
    assert_in_reference(
        "frameworks-tf1-matmul-shape-error",
        f"must be equal, but are {matrix.shape[1]} and {matrix.shape[0]}",
        fmt_list(matrix @ matrix.T),
        fmt_list(matrix * matrix),
    )


def test_tensor_strides_and_transpose() -> None:
    x = np.arange(6).reshape(2, 3)
    strides = tuple(s // x.itemsize for s in x.strides)
    t_strides = tuple(s // x.itemsize for s in x.T.strides)
    assert not x.T.flags["C_CONTIGUOUS"]
    assert_in_reference(
        "frameworks-tensor-memory-layout",
        f"strides {strides}",
        f"strides {t_strides}",
        f"returns {fmt_list(x.T.reshape(6))}",
    )


def test_broadcasting_shapes() -> None:
    cases = [((3, 1), (1, 4)), ((2, 3), (3,)), ((8, 1, 5), (7, 1))]
    expected = [
        f"{left} + {right} gives {np.broadcast_shapes(left, right)}" for left, right in cases
    ]
    with pytest.raises(ValueError):
        np.broadcast_shapes((2, 3), (2,))
    assert_in_reference("frameworks-broadcasting-shapes", *expected, "(2, 3) + (2,) is an error")


def test_autograd_by_hand() -> None:
    x = 3.0
    y = x**2 + 2 * x
    grad = 2 * x + 2
    h = 1e-6
    numeric = ((x + h) ** 2 + 2 * (x + h) - ((x - h) ** 2 + 2 * (x - h))) / (2 * h)
    assert math.isclose(numeric, grad, rel_tol=1e-6)
    assert_in_reference(
        "frameworks-autograd-by-hand",
        f"It prints {y} and {grad}",
        f"{grad:g} + {grad:g} = {2 * grad:g}",
    )


# --- cnn ------------------------------------------------------------------------------------


def test_conv_output_size() -> None:
    assert_in_reference(
        "cnn-conv-output-size",
        f"{conv_output_size(12, 3, 0, 1)} × {conv_output_size(12, 3, 0, 1)}",
        f"a {conv_output_size(12, 3, 1, 1)} × {conv_output_size(12, 3, 1, 1)} output",
        f"a {conv_output_size(12, 3, 0, 2)} × {conv_output_size(12, 3, 0, 2)} output",
    )


POOL_INPUT = np.array(
    [
        [1, 3, 2, 0, 1],
        [4, 6, 5, 1, 2],
        [3, 1, 2, 7, 0],
        [0, 2, 8, 4, 3],
        [5, 1, 3, 2, 9],
    ]
)


def test_max_pooling_by_hand() -> None:
    size, stride = 3, 2
    out_size = conv_output_size(POOL_INPUT.shape[0], size, 0, stride)
    pooled = np.array(
        [
            [
                POOL_INPUT[i * stride : i * stride + size, j * stride : j * stride + size].max()
                for j in range(out_size)
            ]
            for i in range(out_size)
        ]
    )
    question_prompt = prompt("cnn-max-pooling-by-hand")
    assert fmt_list(POOL_INPUT) in question_prompt, "the input matrix in the prompt changed"
    assert_in_reference(
        "cnn-max-pooling-by-hand",
        f"= {out_size} in each dimension",
        f"The output is {fmt_list(pooled)}",
    )


def test_image_memory() -> None:
    pixels = 12_000_000
    uint8_bytes = pixels * 3
    assert_in_reference(
        "cnn-image-as-tensor",
        f"{uint8_bytes // 1_000_000} million bytes",
        f"{uint8_bytes * 8 // 1_000_000} megabits",
        f"{uint8_bytes * 4 // 1_000_000} MB once converted to float32",
        f"224 × 224 × 3 = {224 * 224 * 3:,}",
    )


# --- optimizers -----------------------------------------------------------------------------


def test_iterations_per_epoch() -> None:
    examples, batch = 50_000, 128
    iterations = math.ceil(examples / batch)
    assert_in_reference(
        "optimizers-gradient-descent-variants",
        f"ceil(50,000 / 128) = {iterations} iterations",
        f"only {examples - (iterations - 1) * batch} examples",
        f"giving {examples // batch}",
    )


def test_learning_rate_decay() -> None:
    alpha0, k, t = 0.1, 0.5, 2
    assert_in_reference(
        "optimizers-learning-rate-decay",
        f"≈ {alpha0 * math.exp(-k * t):.4f}",
        f"0.1 / 2 = {alpha0 / (1 + k * t):g}",
        f"0.1 · 0.5² = {alpha0 * 0.5**t:g}",
    )


# --- ml-foundations -------------------------------------------------------------------------


def test_logistic_odds_ratio() -> None:
    beta, p0 = 0.693, 0.2
    ratio = math.exp(beta)
    odds = p0 / (1 - p0)
    p1 = odds * ratio / (1 + odds * ratio)
    assert round(ratio) == 2
    assert_in_reference(
        "ml-foundations-logistic-regression-coefficients",
        f"exp(0.693) ≈ {round(ratio)}",
        f"odds {odds:g}",
        f"p = 0.5 / 1.5 ≈ {p1:.3f}",
    )
