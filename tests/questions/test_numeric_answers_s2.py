"""Recompute the numbers stated in the numerical bank questions derived from seeds 002 and 004.

Each test recomputes a value by formula or with numpy and asserts that the value, written the way
the reference writes it, appears in that question's reference answer, so a reference that states a
wrong number fails. Questions are found by id in
the validated bank (tests/questions/bank_lookup.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions

_all_questions = bank_questions


def _reference(question_id: str) -> str:
    questions = _all_questions()
    assert question_id in questions, f"question {question_id!r} not found in {QUESTIONS_DIR}"
    text = str(questions[question_id]["reference"])
    return " ".join(text.replace("\u2212", "-").split())


def _assert_in_reference(question_id: str, *expected: str) -> None:
    text = _reference(question_id)
    for value in expected:
        assert value in text, f"{question_id}: expected {value!r} in the reference"


def _int(value: float) -> str:
    """Format an exact integer with thousands separators, as the references write them."""
    assert float(value).is_integer(), value
    return f"{int(value):,}"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _conv_params(k_h: int, k_w: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return (k_h * k_w * c_in + (1 if bias else 0)) * c_out


# --- activations -------------------------------------------------------------------------------


def test_swish_values_and_minimum() -> None:
    xs = np.linspace(-3.0, 0.0, 300_001)
    swish = xs / (1.0 + np.exp(-xs))
    i = int(np.argmin(swish))
    _assert_in_reference(
        "activations-swish",
        f"minimum of about {swish[i]:.3f} near x = {xs[i]:.3f}",
        f"swish(1) ≈ {1 * _sigmoid(1):.3f}",
        f"swish(-1) ≈ {-1 * _sigmoid(-1):.3f}",
        "x / 2",
    )


def test_leaky_relu_value() -> None:
    alpha, x = 0.01, -5.0
    value = max(alpha * x, x)
    _assert_in_reference("activations-relu-vs-leaky-relu", "α = 0.01", f"f(-5) = {value:.2f}")


def test_sigmoid_derivative_maximum() -> None:
    xs = np.linspace(-10, 10, 200_001)
    s = 1 / (1 + np.exp(-xs))
    assert math.isclose(float((s * (1 - s)).max()), 0.25, rel_tol=1e-9)
    _assert_in_reference("activations-sigmoid-tanh-hidden-layers", "is at most 0.25")


def test_tanh_is_rescaled_sigmoid_and_derivatives_at_zero() -> None:
    xs = np.linspace(-5, 5, 1001)
    assert np.allclose(np.tanh(xs), 2 / (1 + np.exp(-2 * xs)) - 1)
    tanh_grad = 1 - math.tanh(0.0) ** 2
    sigmoid_grad = _sigmoid(0.0) * (1 - _sigmoid(0.0))
    assert tanh_grad / sigmoid_grad == 4
    _assert_in_reference(
        "activations-tanh-vs-sigmoid-convergence",
        "tanh(x) = 2σ(2x) - 1",
        f"derivative of tanh is {tanh_grad:g}",
        f"is {sigmoid_grad:g}, four times smaller",
    )


# --- cnn ---------------------------------------------------------------------------------------


def test_valid_and_same_padding() -> None:
    n, f = 32, 5
    valid = n - f + 1
    p = (f - 1) // 2
    same = n + 2 * p - f + 1
    _assert_in_reference(
        "cnn-valid-vs-same-padding",
        f"{valid} × {valid} output with valid padding",
        f"adds p = {p} and keeps {same} × {same}",
    )


def test_dense_versus_convolution_parameter_counts() -> None:
    inputs = 224 * 224 * 3
    _assert_in_reference(
        "cnn-why-cnn-not-dense-for-images",
        f"{_int(inputs)} inputs",
        f"{_int(inputs * 1000)} weights",
        f"= {_int(_conv_params(3, 3, 3, 64))} parameters",
    )


def test_dense_to_fully_convolutional_weights() -> None:
    _assert_in_reference(
        "cnn-dense-to-fully-convolutional",
        f"{_int(_conv_params(7, 7, 512, 4096, bias=False))} weights (plus 4,096 biases)",
    )


def test_layer_parameter_counts() -> None:
    flat = 7 * 7 * 64
    _assert_in_reference(
        "cnn-layers-with-parameters",
        f"(3 × 3 × 3 + 1) × 16 = {_conv_params(3, 3, 3, 16)}",
        f"({_int(flat)} values)",
        f"= {_int((flat + 1) * 128)} parameters",
    )


def test_receptive_field() -> None:
    layers = [(3, 1), (2, 2), (3, 1)]  # (kernel, stride)
    r, jump, steps = 1, 1, []
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
        steps.append(r)
    assert steps == [3, 4, 8]
    r3 = 1 + 3 * (3 - 1)
    _assert_in_reference(
        "cnn-receptive-field",
        f"= {steps[2]}, so each final unit sees an {steps[2]} × {steps[2]} patch",
        f"have a {r3} × {r3} receptive field",
        "use 27C² instead of 49C²",
    )


def test_one_by_one_bottleneck() -> None:
    plain = _conv_params(3, 3, 256, 256, bias=False)
    reduce_ = _conv_params(1, 1, 256, 64, bias=False)
    middle = _conv_params(3, 3, 64, 64, bias=False)
    expand = _conv_params(1, 1, 64, 256, bias=False)
    total = reduce_ + middle + expand
    _assert_in_reference(
        "cnn-one-by-one-convolution",
        f"= {_int(plain)} weights",
        f"({_int(reduce_)})",
        f"({_int(middle)})",
        f"total of {_int(total)} weights, about {plain / total:.1f} times fewer",
    )


def test_depthwise_separable_weights() -> None:
    standard = _conv_params(3, 3, 128, 256, bias=False)
    depthwise = 3 * 3 * 128
    pointwise = 128 * 256
    total = depthwise + pointwise
    assert math.isclose(total / standard, 1 / 256 + 1 / 9)
    _assert_in_reference(
        "cnn-depthwise-separable-convolution",
        f"= {_int(standard)} weights",
        f"{_int(depthwise)} depthwise plus 128 × 256 = {_int(pointwise)} pointwise",
        f"{_int(total)} in total, about {standard / total:.1f} times fewer",
    )


def test_transposed_convolution_output_size() -> None:
    n, k, s, p = 16, 4, 2, 1
    out = (n - 1) * s - 2 * p + k
    _assert_in_reference("cnn-transposed-convolution", f"15 × 2 - 2 + 4 = {out}", f"{out} × {out}")


def test_global_average_pooling_head() -> None:
    flat = 7 * 7 * 512
    _assert_in_reference(
        "cnn-global-average-pooling",
        f"{_int(flat)} × 1,000 + 1,000 = {_int(flat * 1000 + 1000)}",
        f"512 × 1,000 + 1,000 = {_int(512 * 1000 + 1000)}",
    )


# --- rnn ---------------------------------------------------------------------------------------


def test_lstm_and_gru_parameter_counts() -> None:
    x, h = 100, 128
    block = h * (h + x) + h
    _assert_in_reference(
        "rnn-lstm-vs-gru",
        f"4 × (128 × (128 + 100) + 128) = {_int(4 * block)}",
        f"3 × (128 × 228 + 128) = {_int(3 * block)}",
    )


def test_simple_rnn_parameter_count() -> None:
    x, h, classes = 50, 100, 10
    cell = x * h + h * h + h
    _assert_in_reference(
        "rnn-simple-rnn-parameters",
        f"{_int(cell)} parameters",
        f"100 × 10 + 10 = {_int(h * classes + classes)}",
        f"giving {_int(cell + h)}",
    )


def test_truncated_bptt_updates() -> None:
    _assert_in_reference("rnn-truncated-bptt", f"that is {1000 // 100} updates per sequence")


def test_pytorch_lstm_shapes() -> None:
    batch, steps, hidden, layers, directions = 8, 20, 64, 2, 2
    output = (batch, steps, directions * hidden)
    h_n = (layers * directions, batch, hidden)
    _assert_in_reference("rnn-pytorch-lstm-shapes", str(output), str(h_n))


def test_forget_gate_bias_values() -> None:
    _assert_in_reference(
        "rnn-lstm-forget-gate-bias",
        f"0.5^10 ≈ {0.5**10:.3f}",
        f"σ(1) ≈ {_sigmoid(1):.2f}",
    )


# --- regularization ----------------------------------------------------------------------------


def test_l1_and_l2_penalties() -> None:
    w, lam = np.array([3.0, -4.0]), 0.01
    l2 = lam * float(np.sum(w**2))
    l1 = lam * float(np.sum(np.abs(w)))
    g2 = 2 * lam * w
    g1 = lam * np.sign(w)
    _assert_in_reference(
        "regularization-l1-vs-l2",
        f"= {l2:.2f} with gradient ({g2[0]:.2f}, {g2[1]:.2f})",
        f"= {l1:.2f} with gradient ({g1[0]:.2f}, {g1[1]:.2f})",
    )


def test_label_smoothing_targets() -> None:
    k, eps = 10, 0.1
    target = (1 - eps) * np.eye(k)[0] + eps / k
    assert math.isclose(float(target.sum()), 1.0)
    _assert_in_reference(
        "regularization-label-smoothing",
        f"true class gets 0.9 + 0.01 = {target[0]:.2f}",
        f"classes gets {target[1]:.2f}",
    )


def test_cutmix_label_mix() -> None:
    patch, image = 112 * 112, 224 * 224
    share = patch / image
    _assert_in_reference(
        "regularization-mixup-cutmix",
        f"covers {_int(patch)} / {_int(image)} = {share:.2f}",
        f"target is {1 - share:.2f} cat and {share:.2f} dog",
    )


# --- fundamentals ------------------------------------------------------------------------------


def test_epoch_batch_iteration() -> None:
    records, batch, epochs = 10_000, 100, 10
    per_epoch = math.ceil(records / batch)
    _assert_in_reference(
        "fundamentals-epoch-batch-iteration",
        f"10,000 / 100 = {per_epoch} iterations",
        f"performs {_int(per_epoch * epochs)} iterations",
    )


# --- ml-foundations ----------------------------------------------------------------------------


def _gini(p: np.ndarray) -> float:
    return float(1 - np.sum(p**2))


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def test_gini_and_entropy_split() -> None:
    parent = np.array([0.6, 0.4])
    right = np.array([1 / 3, 2 / 3])
    gini_parent, h_parent = _gini(parent), _entropy(parent)
    gini_right, h_right = _gini(right), _entropy(right)
    weighted_gini, weighted_h = 0.6 * gini_right, 0.6 * h_right
    _assert_in_reference(
        "ml-foundations-gini-entropy-split",
        f"Gini = 1 - (0.36 + 0.16) = {gini_parent:.2f}",
        f"≈ {h_parent:.3f} bits",
        f"4/9 ≈ {gini_right:.3f} and entropy ≈ {h_right:.3f} bits",
        f"Weighted Gini = 0.6 × 0.444 ≈ {weighted_gini:.3f}",
        f"Gini decrease is 0.48 - 0.267 ≈ {gini_parent - weighted_gini:.3f}",
        f"Weighted entropy = 0.6 × 0.918 ≈ {weighted_h:.3f}",
        f"information gain is 0.971 - 0.551 ≈ {h_parent - weighted_h:.3f} bits",
    )


def test_pca_explained_variance() -> None:
    eigenvalues = np.array([4, 2, 1, 0.5, 0.5])
    ratios = eigenvalues / eigenvalues.sum()
    _assert_in_reference(
        "ml-foundations-pca",
        f"= {eigenvalues.sum():g}",
        f"explains 4 / 8 = {ratios[0]:.0%}",
        f"explain 6 / 8 = {ratios[:2].sum():.0%}",
    )


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_out_of_bag_fraction(n: int) -> None:
    left_out = (1 - 1 / n) ** n
    assert abs(left_out - math.exp(-1)) < 1e-3
    _assert_in_reference(
        "ml-foundations-random-forest-oob",
        f"1/e ≈ {math.exp(-1):.3f}",
        f"about {math.exp(-1):.1%} of the samples are out of bag",
        f"about {1 - math.exp(-1):.1%} are used",
    )
