"""Points for a graded daily answer, written in the grade's own transaction.

``score_event`` is UNIQUE per answer and per (daily post, member): an answer never earns points
twice, and a resubmission's (or a re-grade's) points replace the earlier ones instead of adding.
The member's local date of the answer (their own zone, else the channel's, else the
workspace's) is stored with the points for streaks and periods.

The member's leaderboard totals (``bot.storage.rollups``) change in the same transaction by the
difference the event made: the event is inserted if new, else locked, read and replaced, so the
totals always add the points that replaced, never a guess of them. The event keeps the grade's
score too, so the member's score sum (their average) moves by the same kind of difference.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.points import points_for
from bot.storage.db import insert_ignore
from bot.storage.models import (
    Answer,
    Channel,
    DailyPost,
    Member,
    QuestionVersion,
    ScoreEvent,
    Workspace,
)
from bot.storage.rollups import WORKSPACE_SCOPE, Scope, Scored, apply_score_change


async def award_points(
    session: AsyncSession,
    *,
    answer: Answer,
    score: int,
    question: QuestionVersion,
    member: Member,
    workspace: Workspace,
    post: DailyPost | None,
    channel: Channel | None,
) -> int | None:
    """Upsert the answer's points; None when the answer earns none (practice, late, replaced)."""
    if not answer.scored or answer.superseded or post is None or channel is None:
        return None
    zone = ZoneInfo(member.timezone or channel.timezone or workspace.timezone)
    points = points_for(score, question.difficulty)
    values = {
        "workspace_id": workspace.id,
        "channel_id": channel.id,
        "member_id": member.id,
        "answer_id": answer.id,
        "daily_post_id": post.id,
        "points": points,
        "score": score,
        "member_local_date": answer.submitted_at.astimezone(zone).date(),
        "occurred_at": answer.submitted_at,
    }
    assert workspace.id is not None and channel.id is not None and member.id is not None
    new = Scored(points, answer.submitted_at, score)
    inserted = await session.execute(
        insert_ignore(session, ScoreEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["daily_post_id", "member_id"])
        .returning(ScoreEvent.id)
    )
    old = None
    if inserted.first() is None:  # the post's earlier points: lock them, then replace them
        table = ScoreEvent.__table__  # type: ignore[attr-defined]
        events = table.c
        match = (events.daily_post_id == post.id, events.member_id == member.id)
        earlier = (
            await session.execute(
                sa.select(events.points, events.occurred_at, events.score)
                .where(*match)
                .with_for_update()
            )
        ).one()
        old = Scored(earlier.points, earlier.occurred_at, earlier.score)
        replaced = {
            key: values[key]
            for key in ("answer_id", "points", "score", "member_local_date", "occurred_at")
        }
        await session.execute(sa.update(table).where(*match).values(**replaced))
    scopes = [
        Scope(workspace.id, WORKSPACE_SCOPE, workspace.timezone),
        Scope(workspace.id, channel.id, channel.timezone),
    ]
    await apply_score_change(session, scopes, member.id, old, new)
    return points
