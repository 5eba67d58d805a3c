"""Queries more than one service needs."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import QuestionVersion


async def least_used_active_questions(
    session: AsyncSession,
    use_counts: sa.Subquery,
    *,
    topics: Sequence[str] = (),
    exclude_bank_ids: Sequence[str] = (),
) -> list[QuestionVersion]:
    """Active questions (optionally of some topics) used least often, in bank-id order.

    ``use_counts`` is a subquery with columns ``bank_id`` and ``times`` (posts in a channel,
    answers by a member...); questions missing from it count as never used.
    """
    times = sa.func.coalesce(use_counts.c.times, 0)
    query = (
        sa.select(QuestionVersion, times)
        .outerjoin(use_counts, use_counts.c.bank_id == QuestionVersion.bank_id)
        .where(QuestionVersion.active.is_(True))  # type: ignore[attr-defined]
        .order_by(QuestionVersion.bank_id)
    )
    if topics:
        query = query.where(QuestionVersion.topic.in_(list(topics)))  # type: ignore[attr-defined]
    if exclude_bank_ids:
        query = query.where(QuestionVersion.bank_id.not_in(list(exclude_bank_ids)))  # type: ignore[attr-defined]
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    fewest = min(count for _, count in rows)
    return [question for question, count in rows if count == fewest]
