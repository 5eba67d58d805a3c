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


@pytest.mark.parametrize(
    ("score", "difficulty", "points"),
    [
        (72, "intermediate", 14),  # 14.4 (a /99 makes it 14.5 -> 15)
        (90, "intermediate", 18),  # a base of 19 gives 17, of 21 gives 19
        (37, "intermediate", 7),
        (83, "beginner", 8),  # a base of 11 gives 9
        (25, "beginner", 2),  # 2.5 rounds half to even
        (15, "beginner", 2),  # 1.5 rounds half to even
        (90, "advanced", 27),  # a base of 29 gives 26, of 31 gives 28
        (47, "advanced", 14),
        (1, "advanced", 0),
        (99, "intermediate", 20),
    ],
)
def test_points_for_scores_between_the_round_numbers(score, difficulty, points):
    assert points_for(score, difficulty) == points


def test_points_reject_out_of_range_scores():
    with pytest.raises(ValueError, match=r"^score must be within 0-100, got 101$"):
        points_for(101, "beginner")
    with pytest.raises(ValueError):
        points_for(-1, "advanced")
    assert points_for(0, "beginner") == 0 and points_for(100, "intermediate") == 20


def test_the_longest_streak_can_come_after_a_gap():
    streak = compute_streak(history("x.xxx.x"))
    assert (streak.current, streak.longest) == (1, 3)
    streak = compute_streak(history("xx..xxxx"))
    assert (streak.current, streak.longest, streak.last_answered) == (4, 4, d(8))


def test_a_miss_restarts_the_count_towards_a_freeze():
    # seven in a row after the miss are needed again: six are not enough
    assert compute_streak(history("x.xxxxxx.x")).current == 1
    assert compute_streak(history("x.xxxxxxx.x")).current == 8
