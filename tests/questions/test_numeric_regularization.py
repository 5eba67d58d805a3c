"""Recompute the numbers stated in the regularization questions (penalties, smoothing, CutMix)."""

from __future__ import annotations

import numpy as np

from tests.questions.numeric import assert_states, thousands


def test_l1_and_l2_penalties() -> None:
    w, lam = np.array([3.0, -4.0]), 0.01
    l2, l1 = lam * float(np.sum(w**2)), lam * float(np.sum(np.abs(w)))
    g2, g1 = 2 * lam * w, lam * np.sign(w)
    assert_states(
        "regularization-l1-vs-l2",
        f"= {l2:.2f} with gradient ({g2[0]:.2f}, {g2[1]:.2f})",
        f"= {l1:.2f} with gradient ({g1[0]:.2f}, {g1[1]:.2f})",
    )


def test_label_smoothing_targets() -> None:
    k, eps = 10, 0.1
    target = (1 - eps) * np.eye(k)[0] + eps / k
    assert_states(
        "regularization-label-smoothing",
        f"true class gets 0.9 + 0.01 = {target[0]:.2f}",
        f"classes gets {target[1]:.2f}",
    )


def test_cutmix_label_mix() -> None:
    patch, image = 112 * 112, 224 * 224
    share = patch / image
    assert_states(
        "regularization-mixup-cutmix",
        f"covers {thousands(patch)} / {thousands(image)} = {share:.2f}",
        f"target is {1 - share:.2f} cat and {share:.2f} dog",
    )
