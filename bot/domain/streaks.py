"""Streaks: consecutive local days with a graded daily answer, in the member's own time zone."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    last_day: date | None


def compute_streak(days: Iterable[date], today: date) -> Streak:
    """``days`` are the member's local dates with a graded daily answer (any order, repeats ok).

    The current streak is alive if its last day is today or yesterday: a member who has not
    answered yet today keeps yesterday's streak until the day is over.
    """
    ordered = sorted(set(days))
    if not ordered:
        return Streak(0, 0, None)
    longest = run = 1
    for previous, day in itertools.pairwise(ordered):
        run = run + 1 if day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
    current = 0
    if today - ordered[-1] <= timedelta(days=1):
        current = 1
        for previous, day in zip(reversed(ordered[:-1]), reversed(ordered[1:]), strict=False):
            if day - previous != timedelta(days=1):
                break
            current += 1
    return Streak(current=current, longest=longest, last_day=ordered[-1])
