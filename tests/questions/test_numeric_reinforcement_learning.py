"""Recompute the numbers stated in the reinforcement-learning references (returns, Bellman
backup, TD and Q-learning updates, GAE, PPO clipping, epsilon-greedy, Bradley-Terry)."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, assert_states_number


def discounted_return(rewards: list[float], gamma: float) -> float:
    return sum(gamma**t * r for t, r in enumerate(rewards))


def test_discounted_returns() -> None:
    qid = "reinforcement-learning-discounted-return"
    rewards, gamma = [1, 0, 2, 5], 0.9
    g0, g1 = discounted_return(rewards, gamma), discounted_return(rewards[1:], gamma)
    assert math.isclose(g0, rewards[0] + gamma * g1)
    # A reward of 1 forever: a long truncated sum approaches 1 / (1 - gamma).
    horizon = discounted_return([1] * 2_000, gamma)
    assert math.isclose(horizon, 1 / (1 - gamma), rel_tol=1e-9)
    assert_states(
        qid,
        f"1 + 0 + {gamma**2 * 2:.2f} + {gamma**3 * 5:.3f} = {g0:.3f}",
        f"= {g1:.2f}",
        f"1 + 0.9 × {g1:.2f} = {g0:.3f}",
        f"1 / 0.1 = {round(1 / (1 - gamma))}",
        f"0.9^20 = {gamma**20:.2f}",
    )


def test_bellman_optimality_backup() -> None:
    qid = "reinforcement-learning-bellman-equations"
    gamma = 0.9
    q_a1 = 1.0  # reward 1, then terminal
    q_a2 = 0.8 * (0 + gamma * 5) + 0.2 * 0
    v_star = max(q_a1, q_a2)
    assert v_star == q_a2  # a2 is optimal
    assert_states(
        qid, f"= 0.8 × {gamma * 5:.1f} = {q_a2:.1f}", f"V*(s) = max(1, {q_a2:.1f}) = {v_star:.1f}"
    )


def test_td_and_monte_carlo_updates() -> None:
    qid = "reinforcement-learning-td-vs-monte-carlo"
    v, alpha, gamma = 2.0, 0.1, 0.9
    monte_carlo = v + alpha * (4 - v)
    td_error = 1 + gamma * 3 - v
    td = v + alpha * td_error
    assert_states(
        qid,
        f"= 2 + 0.1 × (4 - 2) = {monte_carlo:.1f}",
        f"- 2 = {td_error:.1f}",
        f"2 + 0.1 × {td_error:.1f} = {td:.2f}",
    )


def test_q_learning_and_sarsa_targets() -> None:
    qid = "reinforcement-learning-q-learning-vs-sarsa"
    q_sa, reward, alpha, gamma = 1.0, 0.5, 0.5, 0.9
    q_next = {"left": 2.0, "right": 3.0}
    q_learning_target = reward + gamma * max(q_next.values())
    sarsa_target = reward + gamma * q_next["left"]
    q_learning = q_sa + alpha * (q_learning_target - q_sa)
    sarsa = q_sa + alpha * (sarsa_target - q_sa)
    assert_states(
        qid,
        f"= 0.5 + {gamma * 3:.1f} = {q_learning_target:.1f}",
        f"(3.2 - 1.0) = {q_learning:.1f}",
        f"0.5 + 0.9 × 2.0 = {sarsa_target:.1f}",
        f"(2.3 - 1.0) = {sarsa:.2f}",
    )


def test_gae_backward_recursion() -> None:
    qid = "reinforcement-learning-gae-worked-example"
    rewards = np.array([1.0, 0.0, 2.0])
    values = np.array([1.5, 1.0, 1.2, 0.0])  # the value after the terminal step is 0
    gamma, lam = 0.9, 0.8
    deltas = rewards + gamma * values[1:] - values[:-1]
    advantages = np.zeros(3)
    running = 0.0
    for t in reversed(range(3)):
        running = deltas[t] + gamma * lam * running
        advantages[t] = running
    # The same advantages from the explicit weighted sum of TD errors.
    explicit = [sum((gamma * lam) ** k * deltas[t + k] for k in range(3 - t)) for t in range(3)]
    assert np.allclose(advantages, explicit)
    # With lambda = 1 the advantage is the Monte Carlo return minus V(s_t).
    lam_one = sum(gamma**k * deltas[k] for k in range(3))
    assert math.isclose(lam_one, 1 + gamma * 0 + gamma**2 * 2 - values[0])
    assert_states(
        qid,
        f"gamma lambda = {gamma * lam:.2f}",
        f"delta_2 = 2 - 1.2 = {deltas[2]:.1f}",
        f"- 1.0 = {deltas[1]:.2f}",
        f"- 1.5 = {deltas[0]:.1f}",
        f"A_1 = 0.08 + 0.72 × 0.8 = {advantages[1]:.3f}",
        f"A_0 = 0.4 + 0.72 × 0.656 = {advantages[0]:.3f}",
        f"0.872 + 1.5 = {advantages[0] + values[0]:.3f}",
    )


def ppo_clip(ratio: float, advantage: float, epsilon: float = 0.2) -> tuple[float, bool]:
    """The clipped surrogate and whether the clipped (constant) branch is the minimum."""
    unclipped = ratio * advantage
    clipped = float(np.clip(ratio, 1 - epsilon, 1 + epsilon)) * advantage
    return min(unclipped, clipped), clipped < unclipped


def test_ppo_clipped_objective() -> None:
    qid = "reinforcement-learning-ppo-clip-example"
    first, first_clipped = ppo_clip(1.5, 2.0)
    second, second_clipped = ppo_clip(0.7, -1.0)
    third, third_clipped = ppo_clip(1.5, -1.0)
    assert (first_clipped, second_clipped, third_clipped) == (True, True, False)
    # The gradient with respect to the ratio, by finite differences: zero when clipped.
    for ratio, advantage, flows in ((1.5, 2.0, False), (0.7, -1.0, False), (1.5, -1.0, True)):
        slope = (ppo_clip(ratio + 1e-6, advantage)[0] - ppo_clip(ratio, advantage)[0]) / 1e-6
        assert (abs(slope) > 0.5) == flows
    assert_states(
        qid,
        f"1.5 × 2 = {1.5 * 2:.1f}",
        f"the minimum {first:.1f} is a constant",
        f"the minimum {second:.1f} is again the clipped constant",
        f"the minimum is the unclipped {third:.1f}",
    )


def test_epsilon_greedy_probabilities() -> None:
    qid = "reinforcement-learning-exploration-strategies"
    epsilon, actions = 0.1, 4
    greedy = 1 - epsilon + epsilon / actions
    other = epsilon / actions
    assert math.isclose(greedy + (actions - 1) * other, 1.0)
    assert_states(qid, f"0.9 + 0.1 / 4 = {greedy:.3f}", f"0.1 / 4 = {other:.3f}")


def test_bradley_terry_reward_loss() -> None:
    qid = "reinforcement-learning-reward-model-bradley-terry"
    margin = 1.2 - 0.2
    probability = 1 / (1 + math.exp(-margin))
    loss = -math.log(probability)
    # d loss / d margin by finite differences.
    slope = (-math.log(1 / (1 + math.exp(-(margin + 1e-7)))) - loss) / 1e-7
    assert math.isclose(slope, -(1 - probability), rel_tol=1e-5)
    assert_states(
        qid,
        f"sigmoid(1.0) = 1 / (1 + e^-1) = {probability:.3f}",
        f"-log sigmoid(1.0) = {loss:.3f}",
        f"= {-(1 - probability):.3f}",
        f"+{1 - probability:.3f} for r_rejected",
    )
    assert_states_number(qid, 1.0)
