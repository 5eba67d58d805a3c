"""Recompute the numbers stated in the statistics track's probability questions.

Each test derives its values from first principles (Bayes' rule, the normal and gamma
distributions, Poisson probabilities, the birthday bound) with ``math`` and
``statistics.NormalDist``, and checks that the question's reference states them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from tests.questions.numeric import assert_states, assert_states_number, prompt, thousands

STANDARD_NORMAL = NormalDist()


def posterior(prior: float, hit_rate: float, false_alarm_rate: float) -> float:
    """P(condition | flagged) by Bayes' rule."""
    true_flags = hit_rate * prior
    false_flags = false_alarm_rate * (1 - prior)
    return true_flags / (true_flags + false_flags)


def test_bayes_rule_base_rate() -> None:
    qid = "statistics-bayes-rule-base-rate"
    prior, recall, false_positive_rate = 0.01, 0.95, 0.10
    true_flags = recall * prior
    false_flags = false_positive_rate * (1 - prior)
    first = posterior(prior, recall, false_positive_rate)
    second = posterior(first, recall, false_positive_rate)
    assert_states_number(qid, true_flags, false_flags, true_flags + false_flags)
    assert_states(qid, f"{first:.3f}", f"about {second:.3f}")
    per_10k_true = round(10_000 * true_flags)
    per_10k_false = round(10_000 * false_flags)
    assert_states(
        qid,
        f"{per_10k_true} of {thousands(per_10k_true + per_10k_false)} flags",
        f"{per_10k_false} acceptable ones",
    )
    assert first < 0.5  # rare class: most flags are wrong


def gamma_sum_exceeds(shape: int, rate: float, threshold: float) -> float:
    """P(sum of `shape` exponentials with this rate > threshold) = P(Poisson(rate·t) < shape)."""
    lam = rate * threshold
    return sum(math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1)) for k in range(shape))


def test_central_limit_theorem_latency_mean() -> None:
    qid = "statistics-central-limit-theorem"
    mean, sd, n, cutoff = 2.0, 2.0, 100, 2.4
    standard_error = sd / math.sqrt(n)
    z = (cutoff - mean) / standard_error
    normal_tail = 1 - STANDARD_NORMAL.cdf(z)
    exact_tail = gamma_sum_exceeds(n, 1 / mean, n * cutoff)
    assert_states(qid, f"2 / √100 = {standard_error:.1f} s", f"1 − Φ({z:g}) ≈ {normal_tail:.4f}")
    assert_states(qid, f"about {exact_tail:.4f}")
    assert exact_tail > normal_tail  # the right skew fattens the upper tail


def test_regression_to_the_mean_prediction() -> None:
    qid = "statistics-regression-to-the-mean"
    correlation, z_now = 0.5, -2
    expected_next = correlation * z_now
    assert f"correlation {correlation}" in prompt(qid)
    assert_states(qid, f"{correlation} × ({z_now}) = {expected_next:g}")


def test_simpsons_paradox_rates() -> None:
    qid = "statistics-simpsons-paradox"
    a = {"new": (30, 200), "returning": (80, 100)}
    b = {"new": (10, 100), "returning": (140, 200)}
    for segment in a:
        assert a[segment][0] / a[segment][1] > b[segment][0] / b[segment][1]
    a_total = [sum(v[i] for v in a.values()) for i in (0, 1)]
    b_total = [sum(v[i] for v in b.values()) for i in (0, 1)]
    assert a_total[0] / a_total[1] < b_total[0] / b_total[1]
    assert_states(
        qid,
        f"{a['new'][0]}/{a['new'][1]} = {a['new'][0] / a['new'][1]:.0%}",
        f"{b['new'][0]}/{b['new'][1]} = {b['new'][0] / b['new'][1]:.0%}",
        f"{a['returning'][0]}/{a['returning'][1]} = {a['returning'][0] / a['returning'][1]:.0%}",
        f"{b['returning'][0]}/{b['returning'][1]} = {b['returning'][0] / b['returning'][1]:.0%}",
        f"A converted {a_total[0]} of {a_total[1]}, {a_total[0] / a_total[1]:.1%}",
        f"B converted {b_total[0]} of {b_total[1]}, {b_total[0] / b_total[1]:.0%}",
    )


def poisson_pmf(k: int, lam: float) -> float:
    return math.exp(-lam) * lam**k / math.factorial(k)


def test_poisson_incident_probabilities() -> None:
    qid = "statistics-poisson-rare-events"
    lam, days = 2.0, 30
    below_five = [poisson_pmf(k, lam) for k in range(5)]
    at_least_five = 1 - sum(below_five)
    assert_states(
        qid,
        f"e^(−2) ≈ {poisson_pmf(0, lam):.3f}",
        "(" + " + ".join(f"{p:.3f}" for p in below_five) + ")",
        f"about {sum(below_five):.3f}",
        f"P(5 or more) ≈ {at_least_five:.4f}",
        f"one day in {round(1 / at_least_five)}",
        f"{days} × {at_least_five:.4f} ≈ {days * at_least_five:.1f}",
    )


def test_birthday_collisions_of_32_bit_hashes() -> None:
    qid = "statistics-hash-collisions-birthday"
    space = 2**32

    def pairs(n: int) -> float:
        return n * (n - 1) / 2 / space

    def collision(n: int) -> float:
        return 1 - math.exp(-pairs(n))

    half_chance = math.sqrt(2 * math.log(2) * space)
    assert abs(collision(round(half_chance)) - 0.5) < 1e-4
    assert_states(
        qid,
        f"N = 2^32 ≈ {space / 1e9:.2f} billion",
        f"exponent is about {pairs(10_000):.4f}, so P ≈ {collision(10_000):.4f}",
        f"about {pairs(100_000):.2f} and P ≈ {collision(100_000):.3f}",
        f"≈ {thousands(round(half_chance))}",
    )
