"""Pure rules: streak arithmetic and points by difficulty."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.points import points_for
from bot.domain.streaks import Streak, compute_streak


def d(day: int) -> date:
    return date(2026, 3, day)


def history(pattern: str) -> list[tuple[date, bool]]:
    """One post a day from 1 March: 'x' answered, '.' missed."""
    return [(d(index + 1), mark == "x") for index, mark in enumerate(pattern)]


def test_a_streak_counts_answered_posts_and_a_miss_without_a_freeze_breaks_it():
    assert compute_streak(history("xxx")).current == 3
    streak = compute_streak(history("xx.xxx"))
    assert (streak.current, streak.longest) == (3, 3)
    streak = compute_streak(history("xxxx.x"))  # the longest run before the gap
    assert (streak.current, streak.longest) == (1, 4)
    assert compute_streak([]) == Streak(0, 0)
    assert compute_streak(history("...")).current == 0


def test_seven_in_a_row_earn_a_freeze_that_a_miss_spends():
    streak = compute_streak(history("xxxxxxx.x"))
    assert (streak.current, streak.longest, streak.freezes) == (8, 8, 0)
    assert streak.freezes_used == (d(8),)
    assert compute_streak(history("xxxxxx.x")).current == 1  # six are not enough


def test_at_most_two_freezes_are_held_and_two_misses_in_a_row_use_both():
    streak = compute_streak(history("x" * 21))
    assert streak.freezes == 2  # earned at 7, 14 and 21, capped at two
    streak = compute_streak(history("x" * 14 + "..x"))
    assert (streak.current, streak.freezes, len(streak.freezes_used)) == (15, 0, 2)
    assert compute_streak(history("x" * 14 + "...x")).current == 1


@pytest.mark.parametrize(
    ("score", "difficulty", "points"),
    [(100, "beginner", 10), (100, "advanced", 30), (50, "intermediate", 10), (0, "advanced", 0)],
)
def test_points_scale_with_score_and_difficulty(score, difficulty, points):
    assert points_for(score, difficulty) == points


def test_points_reject_out_of_range_scores():
    with pytest.raises(ValueError):
        points_for(101, "beginner")
