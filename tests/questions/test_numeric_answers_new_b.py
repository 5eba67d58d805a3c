"""Recompute the exact answers of the numeric llms and normalization questions.

Each test finds its question by id in questions/*.yaml and checks that the value it recomputes
(from the formula, or with numpy) is stated in the question's reference answer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions

_all_questions = bank_questions


@pytest.fixture(scope="module")
def questions() -> dict[str, dict[str, Any]]:
    return _all_questions()


def _reference(questions: dict[str, dict[str, Any]], question_id: str) -> str:
    assert question_id in questions, f"question {question_id!r} not found in {QUESTIONS_DIR}"
    return " ".join(str(questions[question_id]["reference"]).split())


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _assert_all_in(reference: str, expected: list[str]) -> None:
    missing = [text for text in expected if text not in reference]
    assert not missing, f"reference does not state {missing}"


# --- llms ----------------------------------------------------------------------------------


def test_chinchilla_compute_optimal(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-chinchilla-compute-optimal")
    budget = 1e24
    params = math.sqrt(budget / (6 * 20))
    tokens = 20 * params
    assert round(params / 1e9, 1) == 91.3
    assert round(tokens / 1e12, 2) == 1.83
    chinchilla_tokens = 20 * 70e9
    chinchilla_flops = 6 * 70e9 * chinchilla_tokens
    assert chinchilla_tokens == pytest.approx(1.4e12)
    assert chinchilla_flops == pytest.approx(5.88e23)
    _assert_all_in(reference, ["N = sqrt(C / 120)", "91.3B", "1.83T", "1.4T", "5.88e23"])


def test_overtraining_beyond_chinchilla(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-overtraining-beyond-chinchilla")
    ratio = 15e12 / 8e9
    assert ratio == 1875
    assert ratio / 20 == pytest.approx(93.75)
    flops = 6 * 8e9 * 15e12
    assert flops == pytest.approx(7.2e23)
    optimal_params = math.sqrt(flops / 120)
    assert round(optimal_params / 1e9) == 77
    assert round(20 * optimal_params / 1e12, 2) == 1.55
    _assert_all_in(reference, ["1,875", "93.75", "7.2e23", "77B", "1.55T"])


def test_lora_parameter_count(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-lora-parameter-count")
    d = k = 4096
    rank, alpha = 8, 16
    lora = rank * (d + k)
    full = d * k
    assert lora == 65_536
    assert full == 16_777_216
    assert 100 * lora / full == pytest.approx(0.390625)
    assert alpha / rank == 2
    total = 2 * 32 * lora
    assert total == 4_194_304
    _assert_all_in(
        reference,
        ["32,768", "65,536", "16,777,216", "0.390625%", "16 / 8 = 2", "4,194,304"],
    )


def test_qlora_memory(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-qlora-memory")
    params = 7e9
    assert params * 2 / 1e9 == pytest.approx(14)
    assert params * 0.5 / 1e9 == pytest.approx(3.5)
    assert params * 16 / 1e9 == pytest.approx(112)
    block = 64
    scale_bits = 32 / block
    double_quant_bits = 8 / block + 32 / (block * 256)
    assert scale_bits == 0.5
    assert round(double_quant_bits, 3) == 0.127
    _assert_all_in(reference, ["14 GB", "3.5 GB", "112 GB", "0.5 bits", "0.127 bits"])


def test_temperature_and_top_p(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-temperature-top-p-numeric")
    logits = np.array([2.0, 1.0, 0.0])

    def softmax(values: np.ndarray) -> np.ndarray:
        exp = np.exp(values - values.max())
        return exp / exp.sum()

    at_one = softmax(logits)
    at_half = softmax(logits / 0.5)
    expected = [_fmt(p, 3) for p in at_one] + [_fmt(p, 3) for p in at_half]
    cumulative = np.cumsum(at_one)
    kept = int(np.searchsorted(cumulative, 0.9) + 1)
    assert kept == 2
    nucleus = at_one[:kept] / at_one[:kept].sum()
    expected += [_fmt(cumulative[1], 3)] + [_fmt(p, 3) for p in nucleus]
    _assert_all_in(reference, expected)


def test_perplexity(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "llms-perplexity-numeric")
    probs = np.array([0.5, 0.25, 0.125, 0.5])
    bits = float(-np.log2(probs).mean())
    nats = float(-np.log(probs).mean())
    perplexity = math.exp(nats)
    assert bits == pytest.approx(1.75)
    assert perplexity == pytest.approx(2**1.75)
    _assert_all_in(reference, ["1.75 bits", _fmt(nats, 3), _fmt(perplexity, 3)])


# --- normalization -------------------------------------------------------------------------


def test_layernorm_worked_example(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "normalization-layernorm-worked-example")
    x = np.array([2.0, 4.0, 6.0, 8.0])
    mean, var = x.mean(), x.var()
    assert (mean, var) == (5.0, 5.0)
    normalized = (x - mean) / np.sqrt(var)
    scaled = 2 * normalized + 1
    expected_norm = "[" + ", ".join(_fmt(v, 4) for v in normalized) + "]"
    expected_scaled = "[" + ", ".join(_fmt(v, 4) for v in scaled) + "]"
    _assert_all_in(reference, [expected_norm, expected_scaled, _fmt(np.sqrt(var), 4)])


def test_rmsnorm_example(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "normalization-rmsnorm-in-llms")
    x = np.array([2.0, 4.0, 6.0, 8.0])
    mean_square = float(np.mean(x**2))
    assert mean_square == 30
    rms = math.sqrt(mean_square)
    output = x / rms
    expected = "[" + ", ".join(_fmt(v, 4) for v in output) + "]"
    _assert_all_in(reference, ["sqrt(30)", _fmt(rms, 4), expected])


def test_batchnorm_running_average(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "normalization-batchnorm-running-average-numeric")
    momentum = 0.1
    running_mean, running_var = 0.0, 1.0
    means, variances = [], []
    for batch_mean, batch_var in [(2.0, 3.0), (4.0, 5.0)]:
        running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        running_var = (1 - momentum) * running_var + momentum * batch_var
        means.append(round(running_mean, 4))
        variances.append(round(running_var, 4))
    assert means == [0.2, 0.58]
    assert variances == [1.2, 1.58]
    _assert_all_in(reference, ["= 0.2;", "= 0.58.", "= 1.2;", "1.58."])


def test_batchnorm_parameter_count(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "normalization-gamma-beta-role")
    channels = 64
    assert 2 * channels == 128
    _assert_all_in(reference, ["2 × 64 = 128 learnable parameters", "128 buffers"])


def test_batchnorm_folding(questions: dict[str, dict[str, Any]]) -> None:
    reference = _reference(questions, "normalization-batchnorm-folding")
    w, b, gamma, beta, mu, var = 4.0, 1.0, 1.5, 0.25, 3.0, 9.0
    scale = gamma / math.sqrt(var)
    folded_w = scale * w
    folded_b = scale * (b - mu) + beta
    assert (scale, folded_w, folded_b) == (0.5, 2.0, -0.75)
    x = 1.7
    unfolded = gamma * ((w * x + b) - mu) / math.sqrt(var) + beta
    assert folded_w * x + folded_b == pytest.approx(unfolded)
    _assert_all_in(reference, ["s = 1.5 / sqrt(9) = 0.5", "w' = 0.5 × 4 = 2", "= -0.75"])
