"""Recompute the exact answers of the numeric optimizer and generative-model questions.

Each test finds its question by id in questions/*.yaml, recomputes the expected values from the formulas, and
checks that every value is stated in the question's reference answer.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions

#: A number as written in a reference: 16,777,216 or 0.8069 or 7.5e-5 (not the 0 of "x0").
NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e-?\d+)?(?![\w])")


_questions = bank_questions


def _reference(question_id: str) -> str:
    question = _questions().get(question_id)
    assert question is not None, f"question {question_id!r} not found in {QUESTIONS_DIR}"
    return " ".join(str(question["reference"]).split())


def _numbers(text: str) -> list[float]:
    return [float(match.group().replace(",", "")) for match in NUMBER.finditer(text)]


def assert_states(question_id: str, *values: float, rel: float = 5e-4) -> None:
    """Every value appears (to ``rel`` relative precision) as a number in the reference."""
    stated = _numbers(_reference(question_id))
    for value in values:
        assert any(math.isclose(value, number, rel_tol=rel) for number in stated), (
            f"{question_id}: expected {value!r} in the reference; it states {stated}"
        )


def test_number_pattern_reads_reference_notation() -> None:
    text = "m = 0.2, 16,777,216 values, 7.5e-5 at step 500, x0 and 2048-dimensional."
    assert _numbers(text) == [0.2, 16777216.0, 7.5e-5, 500.0, 2048.0]


# --- optimizers ---------------------------------------------------------------------------------


def test_clip_by_norm_example() -> None:
    grad = np.array([3.0, 4.0])
    norm = float(np.linalg.norm(grad))
    clipped = grad * min(1.0, 1.0 / norm)
    assert np.isclose(np.linalg.norm(clipped), 1.0)
    by_value = np.clip(grad, -1.0, 1.0)
    assert_states("optimizers-clip-by-norm-example", norm, *clipped, *by_value)


def test_gradient_accumulation_effective_batch() -> None:
    micro_batch, accumulation_steps, workers = 8, 16, 4
    assert_states(
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
    assert values[0] == pytest.approx(7.5e-5)
    assert values[1] == pytest.approx(1.65e-4)
    assert values[2] == pytest.approx(3e-5)
    assert_states("optimizers-warmup-cosine-values", *values)


def test_batch_size_learning_rate_scaling() -> None:
    linear = 0.1 * 8192 / 256
    square_root = 1e-4 * math.sqrt(1024 / 256)
    assert_states("optimizers-batch-size-lr-scaling", 8192 / 256, linear, square_root)


def test_adam_bias_correction_first_step() -> None:
    beta1, beta2, lr, grad = 0.9, 0.999, 0.001, 2.0
    m = (1 - beta1) * grad
    v = (1 - beta2) * grad**2
    m_hat = m / (1 - beta1)
    v_hat = v / (1 - beta2)
    update = lr * m_hat / math.sqrt(v_hat)
    uncorrected_ratio = m / math.sqrt(v)
    assert_states(
        "optimizers-adam-bias-correction-example",
        m,
        v,
        m_hat,
        v_hat,
        update,
        uncorrected_ratio,
        lr * uncorrected_ratio,
    )


def test_optimizer_state_memory() -> None:
    params = 7e9
    state_bytes = {"sgd": 0, "momentum": 4, "adamw": 4 + 4, "lion": 4, "adamw_8bit": 1 + 1}
    mixed_precision_total = 2 + 2 + 4 + state_bytes["adamw"]  # bf16 w, bf16 g, fp32 master
    assert mixed_precision_total == 16
    assert_states(
        "optimizers-optimizer-state-memory",
        *(params * size / 1e9 for size in state_bytes.values() if size),
        state_bytes["adamw"],
        mixed_precision_total,
        params * mixed_precision_total / 1e9,
    )


def test_adafactor_second_moment_counts() -> None:
    rows = cols = 4096
    adam_second_moment = rows * cols
    adafactor = rows + cols
    assert_states(
        "optimizers-adafactor-memory",
        adam_second_moment,
        adafactor,
        adam_second_moment / adafactor,
        2 * adam_second_moment,
    )


# --- generative ---------------------------------------------------------------------------------


def test_vae_kl_of_diagonal_gaussians() -> None:
    mu = np.array([1.0, 0.0])
    sigma = np.array([1.0, 2.0])
    per_dim = 0.5 * (sigma**2 + mu**2 - 1 - np.log(sigma**2))
    # Cross-check the closed form against a numerical integral of q log(q / p).
    for m, s, expected in zip(mu, sigma, per_dim, strict=True):
        z = np.linspace(m - 12 * s, m + 12 * s, 200_001)
        log_q = -0.5 * ((z - m) / s) ** 2 - np.log(s * math.sqrt(2 * math.pi))
        log_p = -0.5 * z**2 - math.log(math.sqrt(2 * math.pi))
        integral = float(np.sum(np.exp(log_q) * (log_q - log_p)) * (z[1] - z[0]))
        assert integral == pytest.approx(expected, abs=1e-6)
    assert_states("generative-vae-kl-example", *per_dim, per_dim.sum(), math.log(4))


def test_diffusion_closed_form_noising() -> None:
    alpha_bar = 0.36
    signal, noise = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)
    snr = alpha_bar / (1 - alpha_bar)
    x_t = signal * 1.0 + noise * -0.5
    assert_states("generative-diffusion-closed-form-noising", signal, noise, snr, x_t)


def test_classifier_free_guidance_value() -> None:
    eps_uncond, eps_cond, w = 0.2, 0.4, 7.5
    guided = eps_uncond + w * (eps_cond - eps_uncond)
    assert guided == pytest.approx((1 + (w - 1)) * eps_cond - (w - 1) * eps_uncond)
    assert_states("generative-classifier-free-guidance", guided)


def test_latent_diffusion_compression() -> None:
    pixels = 512 * 512 * 3
    latent = (512 // 8) * (512 // 8) * 4
    latent_16 = (512 // 8) * (512 // 8) * 16
    assert_states(
        "generative-latent-diffusion",
        pixels,
        latent,
        pixels / latent,
        latent_16,
        pixels / latent_16,
    )


def _fid(mu_r: np.ndarray, cov_r: np.ndarray, mu_g: np.ndarray, cov_g: np.ndarray) -> float:
    # (cov_r cov_g)^(1/2) via the symmetric form cov_r^(1/2) cov_g cov_r^(1/2), same trace.
    eigval, eigvec = np.linalg.eigh(cov_r)
    root_r = eigvec @ np.diag(np.sqrt(eigval)) @ eigvec.T
    middle = np.linalg.eigvalsh(root_r @ cov_g @ root_r)
    trace_root = float(np.sum(np.sqrt(np.clip(middle, 0, None))))
    return float(np.sum((mu_r - mu_g) ** 2) + np.trace(cov_r) + np.trace(cov_g) - 2 * trace_root)


def test_fid_one_dimensional_toy() -> None:
    fid = _fid(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]]))
    assert fid == pytest.approx((0 - 1) ** 2 + (1 - 2) ** 2)
    assert_states("generative-fid-computation", fid)


def test_ddim_step_reduction() -> None:
    assert_states("generative-ddim-sampling", 1000 / 50)
