"""Recompute the numbers stated in the generative-model questions (VAE KL, diffusion noising,
guidance, latent compression, FID, DDIM steps)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states_number


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
    assert_states_number("generative-vae-kl-example", *per_dim, per_dim.sum(), math.log(4))


def test_diffusion_closed_form_noising() -> None:
    alpha_bar = 0.36
    signal, noise = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)
    snr = alpha_bar / (1 - alpha_bar)
    x_t = signal * 1.0 + noise * -0.5
    assert_states_number("generative-diffusion-closed-form-noising", signal, noise, snr, x_t)


def test_classifier_free_guidance_value() -> None:
    eps_uncond, eps_cond, w = 0.2, 0.4, 7.5
    guided = eps_uncond + w * (eps_cond - eps_uncond)
    assert_states_number("generative-classifier-free-guidance", guided)


def test_latent_diffusion_compression() -> None:
    pixels = 512 * 512 * 3
    latent = (512 // 8) * (512 // 8) * 4
    latent_16 = (512 // 8) * (512 // 8) * 16
    assert_states_number(
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
    assert_states_number("generative-fid-computation", fid)


def test_ddim_step_reduction() -> None:
    assert_states_number("generative-ddim-sampling", 1000 / 50)
