"""Recompute the numbers stated in the optimizer questions (schedules, Adam, memory, clipping)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, assert_states_number


def test_iterations_per_epoch() -> None:
    examples, batch = 50_000, 128
    iterations = math.ceil(examples / batch)
    assert_states(
        "optimizers-gradient-descent-variants",
        f"ceil(50,000 / 128) = {iterations} iterations",
        f"only {examples - (iterations - 1) * batch} examples",
        f"giving {examples // batch}",
    )


def test_learning_rate_decay() -> None:
    alpha0, k, t = 0.1, 0.5, 2
    assert_states(
        "optimizers-learning-rate-decay",
        f"≈ {alpha0 * math.exp(-k * t):.4f}",
        f"0.1 / 2 = {alpha0 / (1 + k * t):g}",
        f"0.1 · 0.5² = {alpha0 * 0.5**t:g}",
    )


def test_clip_by_norm_example() -> None:
    grad = np.array([3.0, 4.0])
    norm = float(np.linalg.norm(grad))
    clipped = grad * min(1.0, 1.0 / norm)
    by_value = np.clip(grad, -1.0, 1.0)
    assert_states_number("optimizers-clip-by-norm-example", norm, *clipped, *by_value)


def test_gradient_accumulation_effective_batch() -> None:
    micro_batch, accumulation_steps, workers = 8, 16, 4
    assert_states_number(
        "optimizers-gradient-accumulation",
        micro_batch * accumulation_steps * workers,
        accumulation_steps,
    )


def _warmup_cosine(step: int, peak: float, floor: float, warmup: int, total: int) -> float:
    if step < warmup:
        return peak * step / warmup
    progress = (step - warmup) / (total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def test_warmup_cosine_values() -> None:
    values = [_warmup_cosine(step, 3e-4, 3e-5, 2000, 100_000) for step in (500, 51_000, 100_000)]
    from_step_zero = 3e-5 + 0.5 * (3e-4 - 3e-5) * (1 + math.cos(math.pi * 51_000 / 100_000))
    assert not math.isclose(from_step_zero, values[1]), "the reference calls this a mistake"
    assert_states_number("optimizers-warmup-cosine-values", *values, 100_000 - 2000)


def test_batch_size_learning_rate_scaling() -> None:
    linear = 0.1 * 8192 / 256
    square_root = 1e-4 * math.sqrt(1024 / 256)
    assert_states_number("optimizers-batch-size-lr-scaling", 8192 / 256, linear, square_root)


def test_adam_bias_correction_first_step() -> None:
    beta1, beta2, lr, grad = 0.9, 0.999, 0.001, 2.0
    m = (1 - beta1) * grad
    v = (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1), v / (1 - beta2)
    uncorrected_ratio = m / math.sqrt(v)
    assert_states_number(
        "optimizers-adam-bias-correction-example",
        m,
        v,
        m_hat,
        v_hat,
        lr * m_hat / math.sqrt(v_hat),
        uncorrected_ratio,
        lr * uncorrected_ratio,
    )


def test_optimizer_state_memory() -> None:
    params = 7e9
    state_bytes = {"momentum": 4, "adamw": 4 + 4, "lion": 4, "adamw_8bit": 1 + 1}
    mixed_precision_total = 2 + 2 + 4 + state_bytes["adamw"]  # bf16 w, bf16 g, fp32 master
    assert_states_number(
        "optimizers-optimizer-state-memory",
        *(params * size / 1e9 for size in state_bytes.values()),
        state_bytes["adamw"],
        mixed_precision_total,
        params * mixed_precision_total / 1e9,
    )


def test_adafactor_second_moment_counts() -> None:
    rows = cols = 4096
    adam_second_moment = rows * cols
    adafactor = rows + cols
    assert_states_number(
        "optimizers-adafactor-memory",
        adam_second_moment,
        adafactor,
        adam_second_moment / adafactor,
        2 * adam_second_moment,
    )
