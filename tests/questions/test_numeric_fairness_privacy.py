"""Recompute the numbers stated in the fairness-privacy references: confusion-matrix disparity
measures, the base-rate identity behind the impossibility results, reweighing weights, the
Laplace mechanism, privacy composition, DP-SGD clipping and noise, and FedAvg."""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, thousands


def test_impossibility_false_positive_rates() -> None:
    qid = "fairness-privacy-impossibility-worked-example"
    precision, miss_rate, people = 0.8, 0.2, 1_000
    fprs = {}
    for group, base_rate in (("A", 0.5), ("B", 0.2)):
        positives = round(people * base_rate)
        negatives = people - positives
        true_pos = round(positives * (1 - miss_rate))
        flagged = round(true_pos / precision)
        false_pos = flagged - true_pos
        fprs[group] = false_pos / negatives
        identity = base_rate / (1 - base_rate) * (1 - precision) / precision * (1 - miss_rate)
        assert math.isclose(fprs[group], identity)
        if group == "A":
            assert_states(
                qid,
                f"{positives} are positive",
                f"leaves {true_pos} true positives",
                f"{true_pos} / {precision} = {flagged} are flagged, so {false_pos} false "
                f"positives among {negatives} negatives: FPR = {fprs[group]:.1f}",
            )
        else:
            assert_states(
                qid,
                f"{positives} are positive, giving {true_pos} true positives, {flagged} flagged "
                f"and {false_pos} false positives among {negatives} negatives: "
                f"FPR = {fprs[group]:.2f}",
            )
    assert round(fprs["A"] / fprs["B"]) == 4
    assert_states(qid, "four times higher")


def test_measuring_disparity() -> None:
    qid = "fairness-privacy-measuring-disparity"
    groups = {  # applicants, creditworthy, approved, approved and creditworthy
        "A": (1_000, 500, 400, 360),
        "B": (500, 200, 120, 100),
    }
    rates = {}
    for name, (applicants, good, approved, true_pos) in groups.items():
        false_pos = approved - true_pos
        rates[name] = {
            "selection": approved / applicants,
            "base": good / applicants,
            "tpr": true_pos / good,
            "fpr": false_pos / (applicants - good),
            "precision": true_pos / approved,
        }
    a, b = rates["A"], rates["B"]
    ratio = b["selection"] / a["selection"]
    assert ratio < 0.8  # fails the four-fifths screen
    assert_states(
        qid,
        f"400 / 1,000 = {a['selection']:.2f} for A and 120 / 500 = {b['selection']:.2f} for B",
        f"difference of {a['selection'] - b['selection']:.2f}",
        f"0.24 / 0.40 = {ratio:.1f}",
        f"({a['base']:.1f} against {b['base']:.1f})",
        f"360 / 500 = {a['tpr']:.2f} for A and 100 / 200 = {b['tpr']:.1f} for B",
        f"gap of {a['tpr'] - b['tpr']:.2f}",
        f"40 / 500 = {a['fpr']:.2f} for A and 20 / 300 = {b['fpr']:.3f} for B",
        f"Precision is {a['precision']:.1f} for A and {b['precision']:.2f} for B",
    )


def test_reweighing_weights() -> None:
    qid = "fairness-privacy-reweighing-example"
    counts = {(0, 1): 300, (0, 0): 300, (1, 1): 100, (1, 0): 300}
    total = sum(counts.values())
    p_group = {a: sum(n for (g, _), n in counts.items() if g == a) / total for a in (0, 1)}
    p_label = {y: sum(n for (_, lab), n in counts.items() if lab == y) / total for y in (0, 1)}
    weight = {(a, y): p_group[a] * p_label[y] / (counts[(a, y)] / total) for (a, y) in counts}
    weighted_positive_rate = {
        a: counts[(a, 1)]
        * weight[(a, 1)]
        / (counts[(a, 1)] * weight[(a, 1)] + counts[(a, 0)] * weight[(a, 0)])
        for a in (0, 1)
    }
    assert math.isclose(weighted_positive_rate[0], p_label[1])
    assert math.isclose(weighted_positive_rate[1], p_label[1])
    assert math.isclose(sum(counts[c] * weight[c] for c in counts), total)
    assert_states(
        qid,
        f"0.4 × 0.4 / 0.1 = {weight[(1, 1)]:.1f}",
        f"0.4 × 0.6 / 0.3 = {weight[(1, 0)]:.1f}",
        f"0.6 × 0.4 / 0.3 = {weight[(0, 1)]:.1f}",
        f"0.6 × 0.6 / 0.3 = {weight[(0, 0)]:.1f}",
        f"= 160 / 400 = {weighted_positive_rate[1]:.1f}",
        f"= 240 / 600 = {weighted_positive_rate[0]:.1f}",
        f"The total weight stays {thousands(total)}",
    )


def test_dp_definition_factors() -> None:
    qid = "fairness-privacy-differential-privacy-definition"
    assert_states(qid, f"the factor is e = {math.exp(1):.3f}", f"it is {math.exp(0.1):.3f}")


def test_laplace_mechanism_count() -> None:
    qid = "fairness-privacy-laplace-mechanism"
    sensitivity, epsilon = 1, 0.5
    scale = sensitivity / epsilon
    variance = 2 * scale**2
    tail = math.exp(-5 / scale)
    # Cross-check the variance and the two-sided tail by sampling.
    noise = np.random.default_rng(0).laplace(0.0, scale, size=400_000)
    assert abs(noise.var() - variance) / variance < 0.02
    assert abs((np.abs(noise) > 5).mean() - tail) < 0.003
    # Density ratio for counts differing by 1 is at most exp(epsilon).
    grid = np.linspace(-20, 20, 4001)
    ratio = np.exp(-np.abs(grid) / scale) / np.exp(-np.abs(grid - 1) / scale)
    assert ratio.max() <= math.exp(epsilon) + 1e-12
    assert_states(
        qid,
        f"b = 1 / 0.5 = {scale:.0f}",
        f"2b^2 = {variance:.0f}",
        f"sqrt(8) = {math.sqrt(variance):.2f}",
        f"exp(-2.5) = {tail:.3f}, about {round(100 * tail)}%",
    )


def test_privacy_composition() -> None:
    qid = "fairness-privacy-privacy-budget-composition"
    k, epsilon, delta_prime = 100, 0.01, 1e-5
    basic = k * epsilon
    log_term = math.log(1 / delta_prime)
    root = math.sqrt(2 * k * log_term)
    first = root * epsilon
    second = k * epsilon * (math.exp(epsilon) - 1)
    advanced = first + second
    assert advanced < basic
    assert_states(
        qid,
        f"100 × 0.01 = {basic:.1f}",
        f"ln(1e5) = {log_term:.2f}",
        f"sqrt(200 × 11.51) = {root:.2f}",
        f"first term is {first:.3f}",
        f"100 × 0.01 × {math.exp(epsilon) - 1:.5f} = {second:.3f}",
        f"epsilon' of about {advanced:.2f}",
    )


def test_dp_sgd_clip_and_noise() -> None:
    qid = "fairness-privacy-dp-sgd"
    gradient, clip_norm = np.array([3.0, 4.0]), 1.0
    norm = float(np.linalg.norm(gradient))
    clipped = gradient * min(1.0, clip_norm / norm)
    assert math.isclose(float(np.linalg.norm(clipped)), clip_norm)
    noise_multiplier, batch = 1.1, 256
    averaged_noise_std = noise_multiplier * clip_norm / batch
    assert_states(
        qid,
        f"has norm {norm:.0f}, so it is scaled by 1/{norm:.0f} to "
        f"({clipped[0]:.1f}, {clipped[1]:.1f})",
        f"1.1 × 1 / 256 = {averaged_noise_std:.4f} per coordinate",
    )


def test_fedavg_weighted_average() -> None:
    qid = "fairness-privacy-fedavg-round"
    sizes = np.array([100, 300, 600])
    values = np.array([0.5, 0.2, 0.1])
    weighted = float((sizes * values).sum() / sizes.sum())
    products = sizes * values
    assert_states(
        qid,
        f"hold {thousands(int(sizes.sum()))} examples in total",
        f"= ({products[0]:.0f} + {products[1]:.0f} + {products[2]:.0f}) / 1,000 = {weighted:.2f}",
        f"unweighted mean would give {values.mean():.3f}",
    )
