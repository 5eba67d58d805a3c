"""Recompute the numbers stated in the reasoning-models references (voting, best-of-n, GRPO,
trace cost, pass@k) from first principles."""

from __future__ import annotations

import math
from math import comb

import numpy as np

from tests.questions.numeric import assert_states, thousands


def majority_of_five(p_correct: float) -> float:
    """P(at least 3 of 5 independent samples correct) when errors all agree on one answer."""
    return sum(comb(5, k) * p_correct**k * (1 - p_correct) ** (5 - k) for k in range(3, 6))


def test_self_consistency_vote() -> None:
    qid = "reasoning-models-self-consistency-vote-math"
    terms_06 = [comb(5, k) * 0.6**k * 0.4 ** (5 - k) for k in (3, 4, 5)]
    terms_04 = [comb(5, k) * 0.4**k * 0.6 ** (5 - k) for k in (3, 4, 5)]
    high, low = majority_of_five(0.6), majority_of_five(0.4)
    assert high > 0.6 and low < 0.4  # voting amplifies whichever answer is the mode
    # Monte Carlo cross-check of the closed form.
    rng = np.random.default_rng(0)
    votes = (rng.random((200_000, 5)) < 0.6).sum(axis=1) >= 3
    assert abs(votes.mean() - high) < 0.005
    assert_states(
        qid,
        " + ".join(f"{t:.4f}" for t in terms_06) + f" = {high:.4f}",
        f"about {100 * high:.1f}%",
        " + ".join(f"{t:.4f}" for t in terms_04) + f" = {low:.4f}",
        f"about {100 * low:.1f}%",
    )


def test_best_of_n_with_exact_checker() -> None:
    qid = "reasoning-models-best-of-n-verifier-math"
    none_pass = 0.8**8
    needed = math.log(0.05) / math.log(0.8)
    n_95 = math.ceil(needed)
    assert 0.8**n_95 <= 0.05 < 0.8 ** (n_95 - 1)
    assert_states(
        qid,
        f"0.8^8 = {none_pass:.3f}",
        f"1 - {none_pass:.3f} = {1 - none_pass:.3f}",
        f"= {needed:.1f}, that is {n_95} samples",
    )


def test_grpo_group_advantages() -> None:
    qid = "reasoning-models-grpo-advantage-example"
    rewards = np.array([1.0, 0.0, 0.0, 0.0])
    mean = rewards.mean()
    population = (rewards - mean) / rewards.std()
    sample = (rewards - mean) / rewards.std(ddof=1)
    assert abs(population.sum()) < 1e-12  # advantages sum to zero
    assert_states(
        qid,
        f"mean is {mean:.2f}",
        f"sqrt(0.25 × 0.75) = {rewards.std():.3f}",
        f"gets (1 - 0.25) / {rewards.std():.3f} = {population[0]:.3f}",
        f"(0 - 0.25) / {rewards.std():.3f} = {population[1]:.3f}",
        f"standard deviation, {rewards.std(ddof=1):.1f}, the values are "
        f"{sample[0]:.1f} and {sample[1]:.1f}",
    )
    equal = np.ones(4)
    assert np.all(equal - equal.mean() == 0)  # an all-equal group has zero advantages


def test_reasoning_trace_cost() -> None:
    qid = "reasoning-models-trace-length-cost"
    reasoning, answer, speed, price_per_million, requests = 6_000, 400, 80, 10, 200_000
    tokens = reasoning + answer
    per_request = tokens * price_per_million / 1_000_000
    assert_states(
        qid,
        f"= {thousands(tokens)} output tokens",
        f"{thousands(tokens)} / {speed} = {tokens // speed} seconds",
        f"= ${per_request:.3f}, or {100 * per_request:.1f} cents, per request",
        f"cost ${thousands(round(per_request * requests))} a day",
        f"{thousands(reasoning)} / {thousands(tokens)} = {100 * reasoning / tokens:.2f}%",
    )


def test_pass_at_k_unbiased_estimator() -> None:
    qid = "reasoning-models-pass-at-k-estimator"
    n, c, k = 10, 3, 2
    unbiased = 1 - comb(n - c, k) / comb(n, k)
    # Exhaustive check: the share of all k-subsets of the n samples holding a correct one.
    samples = [True] * c + [False] * (n - c)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    assert unbiased == sum(samples[i] or samples[j] for i, j in pairs) / len(pairs)
    naive = 1 - (1 - c / n) ** k
    assert_states(
        qid,
        f"C(7, 2) = {comb(n - c, k)} and C(10, 2) = {comb(n, k)}",
        f"= {comb(n, k) - comb(n - c, k)}/{comb(n, k)} = {unbiased:.3f}",
        f"1 - (1 - 0.3)^2 = {naive:.2f}",
    )
