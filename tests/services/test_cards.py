"""Cards: what a member may see before the close, and user text that can never ping anyone."""

from __future__ import annotations

import pytest

from bot.domain.rubric import Coverage, KeyPointVerdict
from bot.services.cards import Card, grade_card, leaderboard_card, quote_user_text
from bot.services.leaderboard import LeaderboardRow, Period

VERDICTS = [
    KeyPointVerdict("gradients flow backwards", Coverage.COVERED, "flow back"),
    KeyPointVerdict("weights update", Coverage.PARTIAL, "update", "say how"),
    KeyPointVerdict("SECRET rubric point", Coverage.MISSING, "", "SECRET hint"),
]


def test_before_close_the_result_hides_missing_points_hints_feedback_and_reference():
    card = grade_card(
        score=55,
        verdicts=VERDICTS,
        feedback="Still missing: SECRET rubric point.",
        reference="SECRET reference answer",
        provisional=False,
        points=11,
        rubric_revealed=False,
    )
    text = card.as_text()
    assert "SECRET" not in text
    assert "gradients flow backwards" in text and "weights update" in text
    assert "1 more key point(s) not covered yet" in text
    assert "55/100" in card.title and card.private


def test_after_close_everything_is_shown():
    card = grade_card(
        score=55,
        verdicts=VERDICTS,
        feedback="Still missing: SECRET rubric point.",
        reference="SECRET reference answer",
        provisional=True,
        points=11,
    )
    text = card.as_text()
    assert text.count("SECRET") == 4
    assert "provisional" in card.footer


@pytest.mark.parametrize(
    "hostile",
    [
        "@everyone look",
        "@here",
        "@Channel",
        "<!channel> hi",
        "<!here>",
        "<@U123> ping",
        "<@&999> role",
        "<#123>",
    ],
)
def test_user_text_never_mentions_anyone(hostile):
    safe = quote_user_text(hostile)
    for token in ("@everyone", "@here", "@channel", "<!", "<@", "<#"):
        assert token not in safe.lower()


def test_display_names_are_neutralised_on_leaderboards():
    card = leaderboard_card(Period.ALL, "workspace", [LeaderboardRow(1, 7, "@everyone", 30, 2)])
    assert "@everyone" not in card.body and "30 pts (2 answers)" in card.body
    single = leaderboard_card(Period.ALL, "workspace", [LeaderboardRow(1, 7, "Ada", 3, 1)])
    assert "(1 answer)" in single.body


def test_cards_survive_the_outbox_round_trip_unchanged():
    from datetime import UTC, datetime

    card = grade_card(
        score=55, verdicts=VERDICTS, feedback="f", reference="r", provisional=False, points=3
    ).model_copy(update={"deadline": datetime(2026, 3, 2, 8, tzinfo=UTC)})
    assert Card.from_json(card.to_json()) == card


def test_long_evidence_is_capped():
    assert len(quote_user_text("x" * 500, 200)) == 200


def test_shorten_cuts_at_a_word_and_says_so():
    from bot.services.cards import shorten

    assert shorten("short enough", 20) == "short enough"
    cut = shorten("What goes wrong, and what should be used instead?", 25)
    assert cut == "What goes wrong, and…" and len(cut) <= 25
    assert shorten("x" * 30, 10) == "x" * 9 + "…"
