"""Recompute the back-of-envelope numbers in the ml-system-design recommendation-ranking topic.

Request and scoring rates of the home feed, the prediction rate of the ads model and the
memory of the similar-items embedding index are derived from the figures the prompts give.
"""

from __future__ import annotations

from tests.questions.numeric import assert_states, thousands

SECONDS_PER_DAY = 24 * 60 * 60


def test_home_feed_request_and_scoring_rates() -> None:
    qid = "ml-system-design-home-feed-recommendation"
    daily_users, opens_per_user, candidates = 50_000_000, 10, 500
    requests_per_day = daily_users * opens_per_user
    per_second = requests_per_day / SECONDS_PER_DAY
    scores_per_second = per_second * candidates
    assert_states(
        qid,
        f"{requests_per_day // 1_000_000} million requests a day",
        f"about {thousands(round(per_second))} per second",
        f"about {scores_per_second / 1e6:.1f} million candidate scores per second",
    )


def test_ads_prediction_rate() -> None:
    qid = "ml-system-design-ads-ctr-prediction"
    requests_per_second, candidates = 100_000, 200
    predictions = requests_per_second * candidates
    assert_states(qid, f"{predictions // 1_000_000} million predictions per second")


def test_similar_items_embedding_memory() -> None:
    qid = "ml-system-design-similar-items"
    listings, dim = 50_000_000, 256
    float32_bytes = listings * dim * 4
    int8_bytes = listings * dim
    assert_states(
        qid,
        f"{thousands(listings)} × {dim} × 4 = {thousands(float32_bytes)} bytes",
        f"about {float32_bytes / 1e9:.1f} GB",
        f"about {int8_bytes / 1e9:.1f} GB",
    )
