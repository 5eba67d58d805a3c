"""Streaks over a channel's scheduled posts, with streak freezes.

A streak counts the channel's consecutive *posts* that the member answered: a weekend, a holiday
or a pause has no post and breaks nothing. Freezes: every ``FREEZE_EVERY`` answered posts in a
row earn one (a member holds at most ``MAX_FREEZES``); a missed post spends one automatically and
the streak survives (it does not grow). A missed post with no freeze ends the streak.

A post still open that the member has not answered yet is not a miss: callers leave it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

FREEZE_EVERY = 7
MAX_FREEZES = 2


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    #: Freezes held now.
    freezes: int = 0
    #: Local dates of the posts a freeze covered, oldest first.
    freezes_used: tuple[date, ...] = ()
    last_answered: date | None = None


NO_STREAK = Streak(0, 0)


def compute_streak(posts: Iterable[tuple[date, bool]]) -> Streak:
    """``posts``: the channel's posts in date order, each with whether the member answered it."""
    current = longest = freezes = in_a_row = 0
    used: list[date] = []
    last_answered: date | None = None
    for day, answered in posts:
        if answered:
            current += 1
            in_a_row += 1
            last_answered = day
            longest = max(longest, current)
            if in_a_row % FREEZE_EVERY == 0:
                freezes = min(MAX_FREEZES, freezes + 1)
            continue
        in_a_row = 0
        if current > 0 and freezes > 0:
            freezes -= 1
            used.append(day)
        else:
            current = 0
            freezes = 0
    return Streak(current, longest, freezes, tuple(used), last_answered)
