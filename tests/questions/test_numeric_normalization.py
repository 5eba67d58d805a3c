"""Recompute the numbers stated in the normalization questions (LayerNorm, RMSNorm, BatchNorm
running statistics, parameters and folding)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states, fmt_list


def test_layernorm_worked_example() -> None:
    x = np.array([2.0, 4.0, 6.0, 8.0])
    normalized = (x - x.mean()) / x.std()
    assert_states(
        "normalization-layernorm-worked-example",
        fmt_list(normalized, 4),
        fmt_list(2 * normalized + 1, 4),
        f"{x.std():.4f}",
    )


def test_rmsnorm_example() -> None:
    x = np.array([2.0, 4.0, 6.0, 8.0])
    mean_square = float(np.mean(x**2))
    rms = math.sqrt(mean_square)
    assert_states(
        "normalization-rmsnorm-in-llms",
        f"sqrt({mean_square:g})",
        f"{rms:.4f}",
        fmt_list(x / rms, 4),
    )


def test_batchnorm_running_average() -> None:
    momentum, running_mean, running_var = 0.1, 0.0, 1.0
    means, variances = [], []
    for batch_mean, batch_var in [(2.0, 3.0), (4.0, 5.0)]:
        running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        running_var = (1 - momentum) * running_var + momentum * batch_var
        means.append(round(running_mean, 4))
        variances.append(round(running_var, 4))
    assert_states(
        "normalization-batchnorm-running-average-numeric",
        f"= {means[0]:g};",
        f"= {means[1]:g}.",
        f"= {variances[0]:g};",
        f"{variances[1]:g}.",
    )


def test_batchnorm_parameter_count() -> None:
    channels = 64
    assert_states(
        "normalization-gamma-beta-role",
        f"2 × {channels} = {2 * channels} learnable parameters",
        f"{2 * channels} buffers",
    )


def test_batchnorm_folding() -> None:
    w, b, gamma, beta, mu, var = 4.0, 1.0, 1.5, 0.25, 3.0, 9.0
    scale = gamma / math.sqrt(var)
    folded_w, folded_b = scale * w, scale * (b - mu) + beta
    x = 1.7
    unfolded = gamma * ((w * x + b) - mu) / math.sqrt(var) + beta
    assert folded_w * x + folded_b == pytest.approx(unfolded), "folding must not change outputs"
    assert_states(
        "normalization-batchnorm-folding",
        f"s = 1.5 / sqrt(9) = {scale:g}",
        f"w' = {scale:g} × 4 = {folded_w:g}",
        f"= {folded_b:g}",
    )
