"""Pure rules: streak arithmetic and points by difficulty."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.points import points_for
from bot.domain.streaks import compute_streak


def d(day: int) -> date:
    return date(2026, 3, day)


def test_streak_alive_through_yesterday_and_broken_by_a_gap():
    assert compute_streak([d(1), d(2), d(3)], today=d(4)).current == 3
    assert compute_streak([d(1), d(2), d(3)], today=d(5)).current == 0
    streak = compute_streak([d(1), d(2), d(5), d(6), d(7), d(3)], today=d(7))
    assert (streak.current, streak.longest) == (3, 3)
    assert compute_streak([], today=d(7)).current == 0


def test_repeated_days_count_once():
    assert compute_streak([d(1), d(1), d(2)], today=d(2)).current == 2


@pytest.mark.parametrize(
    ("score", "difficulty", "points"),
    [(100, "beginner", 10), (100, "advanced", 30), (50, "intermediate", 10), (0, "advanced", 0)],
)
def test_points_scale_with_score_and_difficulty(score, difficulty, points):
    assert points_for(score, difficulty) == points


def test_points_reject_out_of_range_scores():
    with pytest.raises(ValueError):
        points_for(101, "beginner")
