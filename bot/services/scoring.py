"""Points for a graded daily answer, written in the grade's own transaction.

``score_event`` is UNIQUE per answer and per (daily post, member): an answer never earns points
twice, and a resubmission's (or a re-grade's) points replace the earlier ones instead of adding.
The member's local date of the answer (their own zone, else the channel's, else the
workspace's) is stored with the points for streaks and periods.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

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
        "member_local_date": answer.submitted_at.astimezone(zone).date(),
        "occurred_at": answer.submitted_at,
    }
    statement = insert_ignore(session, ScoreEvent).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["daily_post_id", "member_id"],
        set_={
            key: statement.excluded[key]
            for key in ("answer_id", "points", "member_local_date", "occurred_at")
        },
    )
    await session.execute(statement)
    return points
