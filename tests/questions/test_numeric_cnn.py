"""Recompute the numbers stated in the CNN questions (output sizes, pooling, parameter counts)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, fmt_list, prompt, thousands


def conv_output_size(size: int, kernel: int, padding: int, stride: int) -> int:
    return (size - kernel + 2 * padding) // stride + 1


def conv_params(k_h: int, k_w: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return (k_h * k_w * c_in + (1 if bias else 0)) * c_out


def test_conv_output_size() -> None:
    plain, padded, strided = (
        conv_output_size(12, 3, 0, 1),
        conv_output_size(12, 3, 1, 1),
        conv_output_size(12, 3, 0, 2),
    )
    assert_states(
        "cnn-conv-output-size",
        f"{plain} × {plain}",
        f"a {padded} × {padded} output",
        f"a {strided} × {strided} output",
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
    pooled = [
        [
            POOL_INPUT[i * stride : i * stride + size, j * stride : j * stride + size].max()
            for j in range(out_size)
        ]
        for i in range(out_size)
    ]
    assert fmt_list(POOL_INPUT) in prompt("cnn-max-pooling-by-hand")
    assert_states(
        "cnn-max-pooling-by-hand",
        f"= {out_size} in each dimension",
        f"The output is {fmt_list(pooled)}",
    )


def test_image_memory() -> None:
    uint8_bytes = 12_000_000 * 3
    assert_states(
        "cnn-image-as-tensor",
        f"{uint8_bytes // 1_000_000} million bytes",
        f"{uint8_bytes * 8 // 1_000_000} megabits",
        f"{uint8_bytes * 4 // 1_000_000} MB once converted to float32",
        f"224 × 224 × 3 = {thousands(224 * 224 * 3)}",
    )


def test_valid_and_same_padding() -> None:
    n, f = 32, 5
    p = (f - 1) // 2
    assert_states(
        "cnn-valid-vs-same-padding",
        f"{n - f + 1} × {n - f + 1} output with valid padding",
        f"adds p = {p} and keeps {n + 2 * p - f + 1} × {n + 2 * p - f + 1}",
    )


def test_dense_versus_convolution_parameter_counts() -> None:
    inputs = 224 * 224 * 3
    assert_states(
        "cnn-why-cnn-not-dense-for-images",
        f"{thousands(inputs)} inputs",
        f"{thousands(inputs * 1000)} weights",
        f"= {thousands(conv_params(3, 3, 3, 64))} parameters",
    )


def test_dense_to_fully_convolutional_weights() -> None:
    weights = conv_params(7, 7, 512, 4096, bias=False)
    assert_states(
        "cnn-dense-to-fully-convolutional",
        f"{thousands(weights)} weights (plus {thousands(4096)} biases)",
    )


def test_layer_parameter_counts() -> None:
    flat = 7 * 7 * 64
    assert_states(
        "cnn-layers-with-parameters",
        f"(3 × 3 × 3 + 1) × 16 = {conv_params(3, 3, 3, 16)}",
        f"({thousands(flat)} values)",
        f"= {thousands((flat + 1) * 128)} parameters",
    )


def test_receptive_field() -> None:
    r, jump = 1, 1
    for kernel, stride in [(3, 1), (2, 2), (3, 1)]:
        r += (kernel - 1) * jump
        jump *= stride
    stacked = 1 + 3 * (3 - 1)
    assert_states(
        "cnn-receptive-field",
        f"= {r}, so each final unit sees an {r} × {r} patch",
        f"have a {stacked} × {stacked} receptive field",
        f"use {3 * 3 * 3}C² instead of {7 * 7}C²",
    )


def test_one_by_one_bottleneck() -> None:
    plain = conv_params(3, 3, 256, 256, bias=False)
    parts = [
        conv_params(1, 1, 256, 64, bias=False),
        conv_params(3, 3, 64, 64, bias=False),
        conv_params(1, 1, 64, 256, bias=False),
    ]
    total = sum(parts)
    assert_states(
        "cnn-one-by-one-convolution",
        f"= {thousands(plain)} weights",
        f"({thousands(parts[0])})",
        f"({thousands(parts[1])})",
        f"total of {thousands(total)} weights, about {plain / total:.1f} times fewer",
    )


def test_depthwise_separable_weights() -> None:
    standard = conv_params(3, 3, 128, 256, bias=False)
    depthwise, pointwise = 3 * 3 * 128, 128 * 256
    total = depthwise + pointwise
    assert math.isclose(total / standard, 1 / 256 + 1 / 9)
    assert_states(
        "cnn-depthwise-separable-convolution",
        f"= {thousands(standard)} weights",
        f"{thousands(depthwise)} depthwise plus 128 × 256 = {thousands(pointwise)} pointwise",
        f"{thousands(total)} in total, about {standard / total:.1f} times fewer",
    )


def test_transposed_convolution_output_size() -> None:
    n, k, s, p = 16, 4, 2, 1
    out = (n - 1) * s - 2 * p + k
    assert_states("cnn-transposed-convolution", f"15 × 2 - 2 + 4 = {out}", f"{out} × {out}")


def test_global_average_pooling_head() -> None:
    flat = 7 * 7 * 512
    assert_states(
        "cnn-global-average-pooling",
        f"{thousands(flat)} × 1,000 + 1,000 = {thousands(flat * 1000 + 1000)}",
        f"512 × 1,000 + 1,000 = {thousands(512 * 1000 + 1000)}",
    )
