"""A channel's posting schedule as a pure value: which local days it posts, at what time, how long
a question stays open, pauses and holidays; and the slots (instants) it posts at.

Everything is computed in the channel's IANA zone, so daylight-saving changes move the UTC
instant, never the local time. A local time that does not exist on a spring-forward day is
taken at the offset before the change (the post comes an hour later in wall time, once).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_WEEK = frozenset(range(5))
MIN_ANSWER_WINDOW = timedelta(minutes=5)
MAX_ANSWER_WINDOW = timedelta(days=7)
#: How far ahead ``next_slot`` looks (a paused channel with no end date has no next slot).
SEARCH_DAYS = 400


class Cadence(StrEnum):
    #: A question on each selected weekday.
    DAILY = "daily"
    #: A "question of the week": one weekday, with a window of up to seven days.
    WEEKLY = "weekly"


class ScheduleError(ValueError):
    """A schedule was refused; the message says why, and nothing was changed."""


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``sun-thu``, ``mon,wed,fri``, ``daily``/``every day``, ``weekdays``,
    ``weekends``, or weekday numbers 0-6 (Monday = 0)."""
    cleaned = text.strip().lower().replace(" ", "")
    presets = {
        "daily": frozenset(range(7)),
        "everyday": frozenset(range(7)),
        "all": frozenset(range(7)),
        "weekdays": WORKING_WEEK,
        "workdays": WORKING_WEEK,
        "weekends": frozenset({5, 6}),
    }
    if cleaned in presets:
        return presets[cleaned]
    days: set[int] = set()
    for part in filter(None, cleaned.split(",")):
        if "-" in part:
            first, _, last = part.partition("-")
            start, end = _weekday(first), _weekday(last)
            day = start
            days.add(day)
            while day != end:
                day = (day + 1) % 7
                days.add(day)
        else:
            days.add(_weekday(part))
    if not days:
        raise ScheduleError("choose at least one day of the week")
    return frozenset(days)


def parse_time_of_day(text: str) -> time:
    match = re.fullmatch(r"\s*([01]?\d|2[0-3])[:.h]([0-5]\d)\s*", text)
    if not match:
        raise ValueError(f"'{text}' is not a time of day as HH:MM (24-hour)")
    return time(int(match.group(1)), int(match.group(2)))


def parse_window(text: str) -> int:
    """An answer window as minutes: ``90``, ``90m``, ``8h``, ``2d``, ``1d12h``."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.isdigit():
        return int(cleaned)
    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?", cleaned)
    if not cleaned or not parts or not any(parts.groups()):
        raise ValueError(f"'{text}' is not a duration (use minutes, or 8h, 2d, 1d12h)")
    days, hours, minutes = (int(group or 0) for group in parts.groups())
    return days * 24 * 60 + hours * 60 + minutes


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a date as YYYY-MM-DD") from None


def _weekday(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 6:
        return int(token)
    for index, name in enumerate(WEEKDAY_NAMES):
        if token[:3] == name and len(token) >= 3:
            return index
    raise ScheduleError(f"'{token}' is not a day of the week (use mon, tue, ... sun)")


def format_days(days: Iterable[int]) -> str:
    """A short human form: ``Mon-Fri``, ``Sun-Thu``, ``Mon, Wed, Fri``, ``every day``."""
    chosen = sorted(set(days))
    if len(chosen) == 7:
        return "every day"
    if not chosen:
        return "no day"
    # find a single circular run (e.g. Sun-Thu = 6,0,1,2,3)
    for start in chosen:
        run = [(start + offset) % 7 for offset in range(len(chosen))]
        if sorted(run) == chosen and len(chosen) >= 3:
            return f"{WEEKDAY_NAMES[run[0]].title()}-{WEEKDAY_NAMES[run[-1]].title()}"
    return ", ".join(WEEKDAY_NAMES[day].title() for day in chosen)


def local_slot(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local date and time in a zone (first occurrence in a repeated hour)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    post_time: time
    timezone: str
    days: frozenset[int] = WORKING_WEEK
    cadence: Cadence = Cadence.DAILY
    answer_window: timedelta = timedelta(hours=23)
    paused: bool = False
    #: First local date the channel posts again; None with ``paused`` = until resumed.
    paused_until: date | None = None
    skip_dates: frozenset[date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def errors(self, today: date | None = None) -> dict[str, str]:
        """What is wrong with this schedule, by field (empty when it is valid)."""
        problems: dict[str, str] = {}
        if not self.days:
            problems["days"] = "choose at least one day of the week"
        elif any(day not in range(7) for day in self.days):
            problems["days"] = "days of the week are numbered 0 (Monday) to 6 (Sunday)"
        elif self.cadence is Cadence.WEEKLY and len(self.days) != 1:
            problems["days"] = "a weekly question posts on exactly one day of the week"
        if not MIN_ANSWER_WINDOW <= self.answer_window <= MAX_ANSWER_WINDOW:
            problems["answer_window"] = "the answer window must be between 5 minutes and 7 days"
        else:
            gap = self.shortest_gap()
            if "days" not in problems and gap is not None and self.answer_window > gap:
                problems["answer_window"] = (
                    f"the answer window ({_duration(self.answer_window)}) is longer than the gap "
                    f"to the next post ({_duration(gap)})"
                )
        if (
            self.paused
            and self.paused_until is not None
            and today is not None
            and self.paused_until <= today
        ):
            problems["until"] = (
                f"the pause end date {self.paused_until.isoformat()} is not in the future"
            )
        return problems

    def validate(self, today: date | None = None) -> Schedule:
        problems = self.errors(today)
        if problems:
            raise ScheduleError("; ".join(problems.values()))
        return self

    def shortest_gap(self) -> timedelta | None:
        """The shortest time between two consecutive posting weekdays (a week for one day)."""
        chosen = sorted(self.days)
        if not chosen:
            return None
        if len(chosen) == 1:
            return timedelta(days=7)
        gaps = [b - a for a, b in itertools.pairwise(chosen)]
        gaps.append(chosen[0] + 7 - chosen[-1])
        return timedelta(days=min(gaps))

    def is_paused_on(self, day: date) -> bool:
        return self.paused and (self.paused_until is None or day < self.paused_until)

    def posts_on(self, day: date) -> bool:
        """Whether the channel posts on this local date."""
        return (
            day.weekday() in self.days and day not in self.skip_dates and not self.is_paused_on(day)
        )

    def slot_on(self, day: date) -> datetime:
        return local_slot(day, self.post_time, self.zone)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def next_slot(self, after: datetime) -> datetime | None:
        """The first posting instant strictly after ``after`` (None if paused indefinitely)."""
        day = self.local_date(after)
        for _ in range(SEARCH_DAYS):
            if self.posts_on(day):
                slot = self.slot_on(day)
                if slot > after:
                    return slot
            day += timedelta(days=1)
        return None

    def due_slot(self, now: datetime) -> tuple[date, datetime] | None:
        """The latest posting slot at or before ``now`` whose answer window is still open.

        After a downtime this is the post that should exist now; None when no post is due.
        """
        day = self.local_date(now)
        for _ in range(8):
            if self.posts_on(day):
                slot = self.slot_on(day)
                if slot <= now:
                    return (day, slot) if now < slot + self.answer_window else None
            day -= timedelta(days=1)
        return None


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
