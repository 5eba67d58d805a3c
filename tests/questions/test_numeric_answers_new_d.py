"""Recompute the exact numbers in the scale-inference and evaluation-debugging questions.

Each test derives a value from first principles (a formula or numpy) and checks that the
question's reference answer states it, so an edit to a reference cannot silently break the
arithmetic a candidate is graded against.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
import yaml

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions


def _references() -> dict[str, str]:
    """Map question id to its reference, whitespace folded."""
    return {qid: " ".join(q["reference"].split()) for qid, q in bank_questions().items()}


@pytest.fixture(scope="module")
def references() -> dict[str, str]:
    return _references()


def _reference(references: dict[str, str], question_id: str) -> str:
    assert question_id in references, f"question {question_id} not found in {QUESTIONS_DIR}"
    return references[question_id]


def _assert_states(reference: str, *expected: str) -> None:
    for value in expected:
        assert value in reference, f"reference does not state {value!r}"


def _bfloat16(value: float) -> float:
    """Round a float32 to bfloat16 (round to nearest even) and widen it back to float32."""
    bits = np.array([value], dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return float(rounded.view(np.float32)[0])


def _sci(value: float) -> str:
    return f"{value:.2e}".replace("e+", "e")


def test_number_formats(references: dict[str, str]) -> None:
    fp16, fp32 = np.finfo(np.float16), np.finfo(np.float32)
    bf16_max = (2 - 2**-7) * 2.0**127
    bf16_eps = _bfloat16(1 + 2**-7) - 1
    _assert_states(
        _reference(references, "scale-inference-fp16-bf16-number-formats"),
        f"{float(fp16.max):g}",
        f"about {float(fp16.tiny):.1e}".replace("e-05", "e-5"),
        f"about {_sci(bf16_max)}",
        f"fp32's {_sci(float(fp32.max))}",
        f"2^-10 ≈ {float(fp16.eps):.6f}",
        f"2^-7 = {bf16_eps:g}",
        f"2^-23 ≈ {float(fp32.eps):.2e}".replace("e-07", "e-7"),
    )


def test_loss_scaling_and_master_weights(references: dict[str, str]) -> None:
    gradient, scale, update = 1e-8, 65536, 1e-4
    assert np.float16(gradient) == 0
    scaled = gradient * scale
    assert float(np.float16(scaled)) == pytest.approx(scaled, rel=1e-3)
    assert np.float16(1.0) + np.float16(update) == np.float16(1.0)
    assert _bfloat16(1.0 + update) == 1.0
    assert np.float32(1.0) + np.float32(update) != np.float32(1.0)
    smallest = float(np.finfo(np.float16).smallest_subnormal)
    _assert_states(
        _reference(references, "scale-inference-loss-scaling-master-weights"),
        f"2^-24 ≈ {smallest:.2e}".replace("e-08", "e-8"),
        f"1e-8 × 65536 = {scaled:.4e}".replace("e-04", "e-4"),
        f"2^-10 ≈ {float(np.finfo(np.float16).eps):.6f}",
        f"about {float(np.finfo(np.float16).eps) / 2:.6f}",
        f"2^-7 = {_bfloat16(1 + 2**-7) - 1:g}",
        "1.0 + 1e-4 = 1.0001",
    )


def test_pipeline_bubble_fraction(references: dict[str, str]) -> None:
    stages, micro_batches = 4, 12
    bubble = (stages - 1) / (micro_batches + stages - 1)
    assert bubble == pytest.approx(0.2)
    relative = (stages - 1) / micro_batches
    _assert_states(
        _reference(references, "scale-inference-pipeline-bubble"),
        f"{stages - 1} / {micro_batches + stages - 1} = {bubble:g}",
        f"{bubble:.0%}",
        f"{relative:.0%}",
    )


def test_training_memory_fit(references: dict[str, str]) -> None:
    params = 1.5e9
    bytes_per_param = 2 + 2 + 4 + 4 + 4
    assert bytes_per_param == 16
    model_states_gb = params * bytes_per_param / 1e9
    layers, batch, seq, hidden = 48, 8, 1024, 1600
    activations = layers * batch * seq * hidden * 2
    eight_bit_gb = params * (2 + 2 + 4 + 1 + 1) / 1e9
    _assert_states(
        _reference(references, "scale-inference-training-memory-fit"),
        f"{model_states_gb:g} GB",
        f"{activations:,} bytes",
        f"{activations / 1e9:.2f} GB",
        f"{eight_bit_gb:g} GB",
    )


def test_int8_symmetric_quantization(references: dict[str, str]) -> None:
    x = np.array([0.8, -2.54, 1.0, 0.333])
    scale = float(np.abs(x).max() / 127)
    q = np.clip(np.round(x / scale), -127, 127).astype(int)
    x_hat = scale * q
    error = float(np.abs(x_hat - x).max())
    dequantized_text = "[0.8, -2.54, 1.0, 0.34]"
    assert scale == pytest.approx(0.02)
    assert error == pytest.approx(0.007)
    np.testing.assert_allclose(x_hat, yaml.safe_load(dequantized_text))
    _assert_states(
        _reference(references, "scale-inference-int8-quantization-example"),
        f"s = 2.54 / 127 = {scale:g}",
        "[" + ", ".join(str(v) for v in q.tolist()) + "]",
        dequantized_text,
        f"{error:.3f}",
        f"s / 2 = {scale / 2:g}",
    )


def _softmax(logits: list[float], temperature: float) -> np.ndarray:
    z = np.array(logits) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def test_distillation_temperature_softmax(references: dict[str, str]) -> None:
    reference = _reference(references, "scale-inference-distillation-soft-targets")
    for temperature in (1.0, 2.0):
        probs = _softmax([2.0, 1.0, 0.0], temperature)
        _assert_states(reference, "[" + ", ".join(f"{p:.3f}" for p in probs) + "]")


def test_kv_cache_capacity(references: dict[str, str]) -> None:
    layers, kv_heads, head_dim, fp16_bytes = 80, 8, 128, 2
    per_token = 2 * layers * kv_heads * head_dim * fp16_bytes
    per_sequence_gib = per_token * 8192 / 2**30
    free_gib = 40
    mha_per_sequence_gib = per_sequence_gib * 64 / kv_heads
    fp8_per_sequence_gib = per_sequence_gib / 2
    _assert_states(
        _reference(references, "scale-inference-kv-cache-capacity"),
        f"{per_token:,} bytes = {per_token // 2**10} KiB",
        f"{per_token * 8192:,} bytes = {per_sequence_gib:g} GiB",
        f"= {int(free_gib // per_sequence_gib)} concurrent sequences",
        f"{mha_per_sequence_gib:g} GiB per sequence, so only {int(free_gib // mha_per_sequence_gib)}",
        f"{fp8_per_sequence_gib:g} GiB per sequence and {int(free_gib // fp8_per_sequence_gib)}",
    )


def test_speculative_decoding_expected_tokens(references: dict[str, str]) -> None:
    alpha, k = 0.8, 4
    expected = (1 - alpha ** (k + 1)) / (1 - alpha)
    _assert_states(
        _reference(references, "scale-inference-speculative-decoding"),
        f"{alpha ** (k + 1):.5f}",
        f"{expected:.4f} tokens",
    )


def test_roofline_ridge_and_gemv(references: dict[str, str]) -> None:
    peak, bandwidth = 400e12, 2e12
    ridge = peak / bandwidth
    intensity = 2 / 2  # two FLOPs per weight, two bytes per fp16 weight
    attainable = min(peak, intensity * bandwidth)
    _assert_states(
        _reference(references, "scale-inference-roofline-memory-bound"),
        f"{ridge:g} FLOP/byte",
        f"{attainable / 1e12:g} TFLOP/s",
        f"{attainable / peak:.1%}",
        f"B ≈ {ridge:g}",
    )


def test_3d_parallelism_arithmetic(references: dict[str, str]) -> None:
    model_states_tb = 70e9 * 16 / 1e12
    data_parallel = (64 * 8) // (8 * 4)
    _assert_states(
        _reference(references, "scale-inference-3d-parallelism-plan"),
        f"{model_states_tb:.2f} TB",
        f"512 / 32 = {data_parallel}",
    )


def test_precision_recall_f1(references: dict[str, str]) -> None:
    tp, fp, fn, tn = 40, 10, 20, 930
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    accuracy = (tp + tn) / (tp + fp + fn + tn)
    all_negative_accuracy = (fp + tn) / (tp + fp + fn + tn)
    assert f1 == pytest.approx(8 / 11)
    _assert_states(
        _reference(references, "evaluation-debugging-precision-recall-f1-example"),
        f"= {precision:g}",
        f"≈ {recall:.3f}",
        f"≈ {f1:.3f}",
        f"= {accuracy:g}",
        f"{all_negative_accuracy:g} accuracy",
    )


def test_initial_cross_entropy_loss(references: dict[str, str]) -> None:
    classes = 10
    probs = np.full(classes, 1 / classes)
    loss = -math.log(probs[0])
    assert loss == pytest.approx(math.log(classes))
    _assert_states(
        _reference(references, "evaluation-debugging-initial-loss-check"),
        f"ln(10) ≈ {loss:.4f}",
    )


def test_roc_auc_by_ranking(references: dict[str, str]) -> None:
    positives = np.array([0.9, 0.8, 0.4])
    negatives = np.array([0.7, 0.3, 0.2, 0.1])
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    pairs = positives.size * negatives.size
    auc = (wins + 0.5 * ties) / pairs
    _assert_states(
        _reference(references, "evaluation-debugging-roc-auc-ranking-example"),
        f"{wins} / {pairs} ≈ {auc:.4f}",
    )


def test_expected_calibration_error(references: dict[str, str]) -> None:
    bins = [(4, 0.6, 2), (6, 0.9, 4)]  # (count, confidence, correct)
    total = sum(count for count, _, _ in bins)
    gaps = [abs(correct / count - conf) for count, conf, correct in bins]
    ece = sum(count / total * gap for (count, _, _), gap in zip(bins, gaps, strict=True))
    assert ece == pytest.approx(0.18)
    _assert_states(
        _reference(references, "evaluation-debugging-calibration-ece"),
        f"gap of {gaps[0]:.1f}",
        f"gap of about {gaps[1]:.3f}",
        f"= {ece:.2f}.",
    )


def test_mcnemar_statistic(references: dict[str, str]) -> None:
    b, c = 30, 15
    corrected = (abs(b - c) - 1) ** 2 / (b + c)
    uncorrected = (b - c) ** 2 / (b + c)
    # Chi-squared with one degree of freedom is the square of a standard normal.
    p_value = math.erfc(math.sqrt(corrected / 2))
    critical = NormalDist().inv_cdf(0.975) ** 2
    n = b + c
    exact_p = 2 * sum(math.comb(n, k) for k in range(max(b, c), n + 1)) / 2**n
    assert corrected > critical
    _assert_states(
        _reference(references, "evaluation-debugging-mcnemar-significance"),
        f"196 / 45 ≈ {corrected:.2f}",
        f"{critical:.2f}",
        f"about {p_value:.3f}",
        f"225 / 45 = {uncorrected:.1f}",
        f"p ≈ {exact_p:.3f}",
    )


def test_cost_minimizing_threshold(references: dict[str, str]) -> None:
    cost_fp, cost_fn = 1.0, 9.0
    threshold = cost_fp / (cost_fp + cost_fn)
    # At the threshold, the expected costs of predicting positive and negative are equal.
    assert (1 - threshold) * cost_fp == pytest.approx(threshold * cost_fn)
    _assert_states(
        _reference(references, "evaluation-debugging-decision-threshold"),
        "C_FP / (C_FP + C_FN)",
        f"predict positive above {threshold:g}",
    )
