"""Recompute the numbers stated in the self-supervised references.

Softmaxes, contrastive losses, counts and the healthy spread of normalised embeddings are
recomputed from their definitions (the last one also by sampling); each test checks that the
reference states the result (tests/questions/numeric.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states, softmax, thousands


def test_simclr_positives_and_negatives() -> None:
    qid = "self-supervised-simclr-negatives-count"
    batch = 256
    views = 2 * batch
    assert_states(qid, f"2 × 256 = {views} views", f"2 × 256 - 2 = {views - 2}")
    assert_states(qid, f"a {views} × {views} matrix", f"remaining {views - 1} entries")


def test_clip_zero_shot_probabilities() -> None:
    qid = "self-supervised-clip-zero-shot"
    logit_scale = 100
    similarities = np.array([0.31, 0.26, 0.22])
    logits = similarities * logit_scale
    probabilities = softmax(logits)
    assert_states(qid, "the logits are " + ", ".join(f"{v:.0f}" for v in logits[:2]))
    assert_states(qid, f"and {logits[2]:.0f}, and the softmax gives about {probabilities[0]:.3f}")
    assert_states(qid, f"{probabilities[1]:.4f} for cat", f"{probabilities[2]:.5f} for fox")


def test_infonce_at_two_temperatures() -> None:
    qid = "self-supervised-infonce-temperature"
    similarities = np.array([0.8, 0.5, 0.1, -0.2])
    low = softmax(similarities, temperature=0.1)
    high = softmax(similarities, temperature=1.0)
    for temperature, written in ((0.1, "8, 5, 1 and -2"), (1.0, "0.8, 0.5, 0.1 and -0.2")):
        logits = similarities / temperature
        assert written == ", ".join(f"{v:g}" for v in logits[:-1]) + f" and {logits[-1]:g}"
        assert_states(qid, f"At τ = {temperature:g} the logits are {written}")
    assert_states(qid, f"probability of {low[0]:.3f}", f"loss is about {-math.log(low[0]):.4f}")
    assert_states(qid, f"gets only {high[0]:.3f}", f"loss is about {-math.log(high[0]):.3f}")
    share_low = low[1] / low[1:].sum()
    share_high = high[1] / high[1:].sum()
    assert_states(qid, f"about {100 * share_low:.1f}%", f"about {100 * share_high:.1f}%")


def test_moco_queue_and_momentum() -> None:
    qid = "self-supervised-moco-queue"
    queue, batch, momentum = 65_536, 256, 0.999
    assert_states(qid, f"{thousands(queue)} / {batch} = {queue // batch} steps")
    assert_states(qid, f"keys computed during the last {queue // batch} steps")
    assert_states(qid, f"1 / (1 - m) = {round(1 / (1 - momentum))} steps")
    # the weight of a parameter value from 1000 steps ago has decayed by about 1/e
    assert momentum**1000 == pytest.approx(math.exp(-1), rel=1e-3)


def test_clip_logits_per_step() -> None:
    qid = "self-supervised-clip-contrastive-objective"
    batch = 32_768
    assert_states(qid, f"{thousands(batch)}² = {thousands(batch**2)} logits")
    assert_states(qid, f"has {thousands(batch - 1)} negatives")
    # the initial logit scale 1 / 0.07 ≈ 14.3 starts well below the cap of 100
    assert 1 / 0.07 < 100
    assert_states(qid, "initialised to 0.07", "never exceeds 100")


def test_healthy_embedding_spread() -> None:
    qid = "self-supervised-detecting-collapse"
    dim = 256
    expected = 1 / math.sqrt(dim)
    assert_states(qid, f"1 / sqrt({dim}) = {expected:.4f}")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.mean(vectors.std(axis=0)) == pytest.approx(expected, rel=0.01)


def test_mae_visible_patches_and_savings() -> None:
    qid = "self-supervised-mae-masking-ratio"
    patches = (224 // 16) ** 2
    visible = round(patches * (1 - 0.75))
    assert_states(qid, f"(224/16)² = {patches} patches", f"only the {visible} visible patches")
    assert_states(qid, f"{patches} / {visible} = {patches // visible} times")
    assert_states(qid, f"({patches}/{visible})² = {(patches // visible) ** 2} times")
