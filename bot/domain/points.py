"""Points: what a graded daily answer is worth, from its score and the question's difficulty."""

from __future__ import annotations

from bot.domain.bank import Difficulty

#: Points for a perfect answer, by difficulty; a score of s earns round(base * s / 100).
BASE_POINTS: dict[Difficulty, int] = {
    Difficulty.BEGINNER: 10,
    Difficulty.INTERMEDIATE: 20,
    Difficulty.ADVANCED: 30,
}
#: Provisional (offline fallback) grades earn points too; a later regrade replaces them.


def points_for(score: int, difficulty: Difficulty | str) -> int:
    if not 0 <= score <= 100:
        raise ValueError(f"score must be within 0-100, got {score}")
    base = BASE_POINTS[Difficulty(difficulty)]
    return round(base * score / 100)
