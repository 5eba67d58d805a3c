"""Hypothesis: for random histories (several channels in zones far from UTC, periods, scopes,
resubmissions) every leaderboard equals a brute-force recomputation from the score events, and
a resubmission never adds points. Each example plays in a fresh workspace of the same database.

The brute force does not use ``period_start``: an event counts for this week (month) when its
local date in the board's zone falls in the same ISO week (calendar month) as now's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.bank import Difficulty
from bot.domain.points import points_for
from bot.services.leaderboard import Period
from tests.rich_world import DST_ZONE, EAST_ZONE, WEST_ZONE

ZONES = [EAST_ZONE, WEST_ZONE, DST_ZONE, "UTC", "Pacific/Auckland"]
LEVELS = [Difficulty.BEGINNER, Difficulty.INTERMEDIATE, Difficulty.ADVANCED]
#: Saturday 28 March 2026 00:00 UTC: Berlin's DST change, a month's and a week's end are near.
ORIGIN = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
DB_EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3),  # member
        st.integers(min_value=0, max_value=1),  # channel
        st.integers(min_value=-3000, max_value=3000),  # minutes from ORIGIN
        st.integers(min_value=0, max_value=100),  # score
        st.integers(min_value=0, max_value=2),  # difficulty
    ),
    min_size=1,
    max_size=10,
)


def in_period(period: Period, instant: datetime, now: datetime, zone: str) -> bool:
    if period is Period.ALL:
        return True
    mine, today = instant.astimezone(ZoneInfo(zone)), now.astimezone(ZoneInfo(zone))
    if period is Period.WEEK:
        return mine.isocalendar()[:2] == today.isocalendar()[:2]
    return (mine.year, mine.month) == (today.year, today.month)


@DB_EXAMPLES
@given(
    history=events,
    zones=st.tuples(*[st.sampled_from(ZONES)] * 3),
    now_minutes=st.integers(min_value=3000, max_value=3000 + 4 * 24 * 60),
)
async def test_every_board_equals_a_brute_force_ranking_of_the_score_events(
    rich_world, history, zones, now_minutes
):
    workspace_zone, *channel_zones = zones
    ws = await rich_world.workspace(workspace_zone)
    channels = [
        await rich_world.channel(ws, f"c{index}", zone) for index, zone in enumerate(channel_zones)
    ]
    members = [await rich_world.member(ws, f"m{index}") for index in range(4)]
    now = ORIGIN + timedelta(minutes=now_minutes)
    rich_world.clock.set(now)
    # in time order; the same member, channel and UTC day again is a resubmission
    for member, channel, minutes, score, level in sorted(history, key=lambda event: event[2]):
        at = ORIGIN + timedelta(minutes=minutes)
        await rich_world.score(
            ws, channels[channel], members[member], at, score, LEVELS[level], resubmit=True
        )
    service = rich_world.service()
    for period in Period:
        for scope, zone in [(None, workspace_zone), *zip(channels, channel_zones, strict=True)]:
            rows = await service.leaderboard(ws, period, channel_id=scope)
            got = [(row.rank, row.display_name, row.points, row.answers) for row in rows]
            expected = rich_world.expected_board(
                ws,
                None,
                scope,
                keep=lambda record, period=period, zone=zone: in_period(
                    period, record.occurred_at, now, zone
                ),
            )
            assert got == expected, (period, scope)


@DB_EXAMPLES
@given(
    scores=st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=5),
    level=st.integers(min_value=0, max_value=2),
)
async def test_a_resubmission_replaces_the_points_and_never_adds(rich_world, scores, level):
    ws = await rich_world.workspace(DST_ZONE)
    channel = await rich_world.channel(ws, "prep", DST_ZONE)
    member = await rich_world.member(ws, "Ana")
    day = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    service = rich_world.service()
    for index, score in enumerate(scores):
        await rich_world.score(
            ws, channel, member, day + timedelta(minutes=index), score, LEVELS[level], resubmit=True
        )
        stats = await service.member_stats(member)
        assert stats.daily_answers == 1
        assert stats.points == points_for(score, LEVELS[level])
        assert stats.average_score == score
        board = await service.leaderboard(ws, Period.ALL)
        assert [(row.points, row.answers) for row in board] == [(stats.points, 1)]
