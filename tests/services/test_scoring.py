"""Points written with a grade: the member's local date comes from the member's zone, else the
channel's (far east and far west of UTC), a resubmission's points replace the earlier ones, and
unscored, replaced or post-less answers earn nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from bot.services.scoring import award_points
from bot.storage.models import (
    Answer,
    Channel,
    DailyPost,
    Member,
    QuestionVersion,
    ScoreEvent,
    Workspace,
)
from tests.rich_world import EAST_ZONE, WEST_ZONE


async def test_the_local_date_is_the_members_zone_else_the_channels(rich_world):
    ws = await rich_world.workspace("UTC")
    west = await rich_world.channel(ws, "west", WEST_ZONE)
    eastern = await rich_world.member(ws, "Ana", EAST_ZONE)
    zoneless = await rich_world.member(ws, "Ben")
    utc_member = await rich_world.member(ws, "Cy", "UTC")
    at = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)  # 2 March 01:00 east, 1 March 01:00 west
    for member in (eastern, zoneless, utc_member):
        await rich_world.score(ws, west, member, at, 80)
    async with rich_world.sessions() as session:
        dates = dict(
            (
                await session.execute(sa.select(ScoreEvent.member_id, ScoreEvent.member_local_date))
            ).all()
        )
    assert dates == {
        eastern: date(2026, 3, 2),
        zoneless: date(2026, 3, 1),
        utc_member: date(2026, 3, 1),
    }
    late_west = datetime(2026, 3, 2, 9, 59, tzinfo=UTC)  # 1 March 23:59 in Honolulu
    await rich_world.score(ws, west, zoneless, late_west, 80, local_date=date(2026, 3, 2))
    async with rich_world.sessions() as session:
        days = (
            (
                await session.execute(
                    sa.select(ScoreEvent.member_local_date)
                    .where(ScoreEvent.member_id == zoneless)
                    .order_by(ScoreEvent.occurred_at)
                )
            )
            .scalars()
            .all()
        )
    assert days == [date(2026, 3, 1), date(2026, 3, 1)]


async def test_a_resubmission_overwrites_points_answer_and_instant(rich_world):
    ws = await rich_world.workspace("UTC")
    channel = await rich_world.channel(ws, "prep", "UTC")
    ana = await rich_world.member(ws, "Ana")
    first = await rich_world.score(ws, channel, ana, datetime(2026, 3, 1, 9, tzinfo=UTC), 95)
    second = await rich_world.score(
        ws, channel, ana, datetime(2026, 3, 1, 10, tzinfo=UTC), 41, resubmit=True
    )
    assert (first.points, second.points) == (19, 8)
    async with rich_world.sessions() as session:
        rows = (await session.execute(sa.select(ScoreEvent.points, ScoreEvent.occurred_at))).all()
    assert rows == [(8, datetime(2026, 3, 1, 10, tzinfo=UTC))]


@pytest.mark.parametrize(
    ("scored", "superseded", "with_post", "with_channel"),
    [
        (False, False, True, True),  # late: recorded, not scored
        (True, True, True, True),  # replaced by a resubmission
        (True, False, False, True),  # practice: no daily post
        (True, False, True, False),  # no channel
    ],
    ids=["unscored", "superseded", "no-post", "no-channel"],
)
async def test_an_unscored_replaced_or_postless_answer_earns_nothing_and_changes_no_points(
    rich_world, scored, superseded, with_post, with_channel
):
    ws = await rich_world.workspace("UTC")
    channel_id = await rich_world.channel(ws, "prep", "UTC")
    ana = await rich_world.member(ws, "Ana")
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    recorded = await rich_world.score(ws, channel_id, ana, at, 80)
    assert recorded.points == 16
    async with rich_world.sessions() as session, session.begin():
        answer = (await session.execute(sa.select(Answer))).scalar_one()
        answer.scored = scored
        answer.superseded = superseded
        post = await session.get(DailyPost, recorded.daily_post_id)
        channel = await session.get(Channel, channel_id)
        question = await session.get(QuestionVersion, answer.question_id)
        member = await session.get(Member, ana)
        workspace = await session.get(Workspace, ws)
        assert question and member and workspace
        earned = await award_points(
            session,
            answer=answer,
            score=30,
            question=question,
            member=member,
            workspace=workspace,
            post=post if with_post else None,
            channel=channel if with_channel else None,
        )
    assert earned is None
    async with rich_world.sessions() as session:
        rows = (await session.execute(sa.select(ScoreEvent.points, ScoreEvent.occurred_at))).all()
    assert rows == [(16, at)]
