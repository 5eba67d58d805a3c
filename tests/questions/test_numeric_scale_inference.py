"""Recompute the numbers stated in the scale and inference questions (number formats, loss
scaling, pipeline bubble, memory, quantization, distillation, roofline, 3D parallelism)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tests.questions.numeric import assert_states, softmax


def _bfloat16(value: float) -> float:
    """Round a float32 to bfloat16 (round to nearest even) and widen it back to float32."""
    bits = np.array([value], dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return float(rounded.view(np.float32)[0])


def _sci(value: float) -> str:
    return f"{value:.2e}".replace("e+", "e")


def test_number_formats() -> None:
    fp16, fp32 = np.finfo(np.float16), np.finfo(np.float32)
    bf16_max = (2 - 2**-7) * 2.0**127
    bf16_eps = _bfloat16(1 + 2**-7) - 1
    assert_states(
        "scale-inference-fp16-bf16-number-formats",
        f"{float(fp16.max):g}",
        f"about {float(fp16.tiny):.1e}".replace("e-05", "e-5"),
        f"about {_sci(bf16_max)}",
        f"fp32's {_sci(float(fp32.max))}",
        f"2^-10 ≈ {float(fp16.eps):.6f}",
        f"2^-7 = {bf16_eps:g}",
        f"2^-23 ≈ {float(fp32.eps):.2e}".replace("e-07", "e-7"),
    )


def test_loss_scaling_and_master_weights() -> None:
    gradient, scale, update = 1e-8, 65536, 1e-4
    assert np.float16(gradient) == 0
    scaled = gradient * scale
    assert float(np.float16(scaled)) == pytest.approx(scaled, rel=1e-3)
    assert np.float16(1.0) + np.float16(update) == np.float16(1.0)
    assert _bfloat16(1.0 + update) == 1.0
    assert np.float32(1.0) + np.float32(update) != np.float32(1.0)
    smallest = float(np.finfo(np.float16).smallest_subnormal)
    assert_states(
        "scale-inference-loss-scaling-master-weights",
        f"2^-24 ≈ {smallest:.2e}".replace("e-08", "e-8"),
        f"1e-8 × 65536 = {scaled:.4e}".replace("e-04", "e-4"),
        f"2^-10 ≈ {float(np.finfo(np.float16).eps):.6f}",
        f"about {float(np.finfo(np.float16).eps) / 2:.6f}",
        f"2^-7 = {_bfloat16(1 + 2**-7) - 1:g}",
        "1.0 + 1e-4 = 1.0001",
    )


def test_pipeline_bubble_fraction() -> None:
    stages, micro_batches = 4, 12
    bubble = (stages - 1) / (micro_batches + stages - 1)
    assert bubble == pytest.approx(0.2)
    relative = (stages - 1) / micro_batches
    assert_states(
        "scale-inference-pipeline-bubble",
        f"{stages - 1} / {micro_batches + stages - 1} = {bubble:g}",
        f"{bubble:.0%}",
        f"{relative:.0%}",
    )


def test_int8_symmetric_quantization() -> None:
    x = np.array([0.8, -2.54, 1.0, 0.333])
    scale = float(np.abs(x).max() / 127)
    q = np.clip(np.round(x / scale), -127, 127).astype(int)
    x_hat = scale * q
    error = float(np.abs(x_hat - x).max())
    dequantized_text = "[0.8, -2.54, 1.0, 0.34]"
    assert scale == pytest.approx(0.02)
    assert error == pytest.approx(0.007)
    np.testing.assert_allclose(x_hat, yaml.safe_load(dequantized_text))
    assert_states(
        "scale-inference-int8-quantization-example",
        f"s = 2.54 / 127 = {scale:g}",
        "[" + ", ".join(str(v) for v in q.tolist()) + "]",
        dequantized_text,
        f"{error:.3f}",
        f"s / 2 = {scale / 2:g}",
    )


def test_roofline_ridge_and_gemv() -> None:
    peak, bandwidth = 400e12, 2e12
    ridge = peak / bandwidth
    intensity = 2 / 2  # two FLOPs per weight, two bytes per fp16 weight
    attainable = min(peak, intensity * bandwidth)
    assert_states(
        "scale-inference-roofline-memory-bound",
        f"{ridge:g} FLOP/byte",
        f"{attainable / 1e12:g} TFLOP/s",
        f"{attainable / peak:.1%}",
        f"B ≈ {ridge:g}",
    )


def test_3d_parallelism_arithmetic() -> None:
    model_states_tb = 70e9 * 16 / 1e12
    data_parallel = (64 * 8) // (8 * 4)
    assert_states(
        "scale-inference-3d-parallelism-plan",
        f"{model_states_tb:.2f} TB",
        f"512 / 32 = {data_parallel}",
    )


def test_training_memory_fit() -> None:
    params, gpu_bytes = 1.5e9, 24 * 2**30
    bytes_per_param = 2 + 2 + 4 + 4 + 4  # bf16 w and g, fp32 master, two fp32 moments
    states = params * bytes_per_param
    spare = gpu_bytes - states
    layers, batch, seq, hidden, vocab = 48, 8, 1024, 1600, 50_257
    activations = layers * batch * seq * hidden * 2
    logits = batch * seq * vocab * 2
    eight_bit = params * (2 + 2 + 4 + 1 + 1)
    assert activations < spare < activations + logits, "the reference's verdict: it does not fit"
    assert_states(
        "scale-inference-training-memory-fit",
        f"{states / 1e9:g} × 10^9 bytes",
        f"{states / 2**30:.2f} GiB",
        f"{gpu_bytes:,} bytes",
        f"about {spare / 1e9:.2f} GB ({spare / 2**30:.2f} GiB)",
        f"= {activations:,} bytes, about {activations / 1e9:.2f} GB",
        f"about {(spare - activations) / 1e9:.2f} GB",
        f"= {logits:,} bytes, about {logits / 1e9:.2f} GB",
        f"{eight_bit / 1e9:g} GB",
    )


def test_distillation_temperature_softmax() -> None:
    logits = [4.0, 2.0, 1.0]
    assert_states(
        "scale-inference-distillation-soft-targets",
        "[4, 2, 1]",
        *(
            "[" + ", ".join(f"{p:.3f}" for p in softmax(logits, t)) + "] at T = " + f"{t:g}"
            for t in (1, 4)
        ),
    )
