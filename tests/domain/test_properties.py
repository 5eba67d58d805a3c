"""Hypothesis properties of the pure rules: points (never negative, monotonic in score and in
difficulty, never above the base) and streaks (current <= longest, both equal a brute-force
count written independently of ``compute_streak``)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.bank import Difficulty
from bot.domain.points import BASE_POINTS, points_for
from bot.domain.streaks import FREEZE_EVERY, MAX_FREEZES, compute_streak

LEVELS = [Difficulty.BEGINNER, Difficulty.INTERMEDIATE, Difficulty.ADVANCED]
scores = st.integers(min_value=0, max_value=100)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(low=scores, high=scores, level=st.integers(min_value=0, max_value=2))
def test_points_are_never_negative_and_grow_with_the_score(low, high, level):
    low, high = min(low, high), max(low, high)
    difficulty = LEVELS[level]
    assert 0 <= points_for(low, difficulty) <= points_for(high, difficulty)
    assert points_for(high, difficulty) <= BASE_POINTS[difficulty]
    assert abs(points_for(high, difficulty) - BASE_POINTS[difficulty] * high / 100) <= 0.5


@FAST
@given(score=scores)
def test_a_harder_question_never_earns_fewer_points(score):
    earned = [points_for(score, level) for level in LEVELS]
    assert earned == sorted(earned)


def brute_force_streak(answered: list[bool]) -> tuple[int, int]:
    """(current, longest) by replaying each post and counting the answered ones since the last
    break; a freeze is earned per FREEZE_EVERY answers since the last miss and held up to
    MAX_FREEZES; a miss either spends one (the run survives) or breaks the run."""
    runs: list[int] = []
    run = since_miss = held = 0
    for done in answered:
        if done:
            run += 1
            since_miss += 1
            if since_miss % FREEZE_EVERY == 0 and held < MAX_FREEZES:
                held += 1
            runs.append(run)
            continue
        since_miss = 0
        if run and held:
            held -= 1
        else:
            run = held = 0
    return run, max(runs, default=0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.booleans(), max_size=40)
    | st.lists(st.sampled_from([True] * 6 + [False]), max_size=60)
)
def test_streak_current_never_exceeds_longest_and_both_match_a_brute_force_count(answered):
    start = date(2026, 3, 1)
    streak = compute_streak(
        [(start + timedelta(days=index), done) for index, done in enumerate(answered)]
    )
    assert streak.current <= streak.longest
    assert (streak.current, streak.longest) == brute_force_streak(answered)
    assert 0 <= streak.freezes <= MAX_FREEZES
    if not any(answered):
        assert streak.longest == 0
    if all(answered):
        assert streak.current == streak.longest == len(answered)
