"""Recompute the numbers in the ml-system-design prediction-products topic.

The expected-revenue comparison of two hotel prices and the expected loss of a loan.
"""

from __future__ import annotations

from tests.questions.numeric import assert_states, thousands


def test_expected_revenue_of_two_prices() -> None:
    qid = "ml-system-design-dynamic-pricing"
    options = {120: 0.6, 150: 0.45}
    expected = {price: price * probability for price, probability in options.items()}
    best = max(expected, key=lambda price: expected[price])
    assert best == 120
    assert_states(
        qid,
        f"a price of 120 booked with probability 0.6 earns {expected[120]:g}",
        f"a price of 150 with probability 0.45 earns {expected[150]:g}",
        "so the lower price wins",
    )


def test_expected_loss_of_a_loan() -> None:
    qid = "ml-system-design-credit-risk-scoring"
    probability_of_default, loss_given_default, exposure = 0.04, 0.6, 10_000
    expected_loss = probability_of_default * loss_given_default * exposure
    assert_states(
        qid,
        f"{probability_of_default} × {loss_given_default} × {thousands(exposure)} = "
        f"{expected_loss:g}",
    )
