"""Queries more than one service needs: which questions a channel or member may get, and the
least used of them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.bank import Difficulty, Track
from bot.storage.models import DisabledQuestion, QuestionVersion


def eligible_questions(
    *,
    scope: str,
    track: Track | None = None,
    topics: Sequence[str] = (),
    difficulty: Difficulty | None = None,
    include_llm_only: bool = True,
    exclude_bank_ids: Sequence[str] = (),
    workspace_id: int | None = None,
) -> sa.ColumnElement[bool]:
    """Active questions of the built-in bank and the workspace's own (``scope``), filtered by
    track, topics and difficulty; LLM-only questions only when an LLM grades; never one the
    workspace's admins took out of rotation."""
    conditions: list[sa.ColumnElement[bool]] = [
        col(QuestionVersion.active).is_(True),
        col(QuestionVersion.scope).in_(["", scope]),
    ]
    if track is not None:
        conditions.append(col(QuestionVersion.track) == track)
    if topics:
        conditions.append(col(QuestionVersion.topic).in_(list(topics)))
    if difficulty is not None:
        conditions.append(col(QuestionVersion.difficulty) == difficulty)
    if not include_llm_only:
        conditions.append(col(QuestionVersion.llm_only).is_(False))
    if exclude_bank_ids:
        conditions.append(col(QuestionVersion.bank_id).not_in(list(exclude_bank_ids)))
    if workspace_id is not None:
        conditions.append(
            ~sa.exists().where(
                col(DisabledQuestion.workspace_id) == workspace_id,
                col(DisabledQuestion.bank_id) == QuestionVersion.bank_id,
            )
        )
    return sa.and_(*conditions)


async def least_used_choices(
    session: AsyncSession, condition: sa.ColumnElement[bool], use_counts: sa.Subquery
) -> list[tuple[int, Difficulty]]:
    """(id, difficulty) of the questions matching ``condition`` used least often, in bank-id
    order: what a pick needs, without loading every candidate (a fresh channel has hundreds).

    ``use_counts`` is a subquery with columns ``bank_id`` and ``times`` (posts in a channel,
    answers by a member...); questions missing from it count as never used.
    """
    counted = (
        sa.select(
            col(QuestionVersion.id),
            col(QuestionVersion.bank_id),
            col(QuestionVersion.difficulty),
            sa.func.coalesce(use_counts.c.times, 0).label("times"),
        )
        .outerjoin(use_counts, use_counts.c.bank_id == QuestionVersion.bank_id)
        .where(condition)
        .cte("counted")
    )
    fewest = sa.select(sa.func.min(counted.c.times)).scalar_subquery()
    rows = await session.execute(
        sa.select(counted.c.id, counted.c.difficulty)
        .where(counted.c.times == fewest)
        .order_by(counted.c.bank_id, counted.c.id)
    )
    return [(question_id, Difficulty(difficulty)) for question_id, difficulty in rows.all()]


async def least_used(
    session: AsyncSession, condition: sa.ColumnElement[bool], use_counts: sa.Subquery
) -> list[QuestionVersion]:
    """The questions matching ``condition`` used least often, in bank-id order (see
    ``least_used_choices``)."""
    ids = [
        question_id for question_id, _ in await least_used_choices(session, condition, use_counts)
    ]
    if not ids:
        return []
    rows = await session.execute(
        sa.select(QuestionVersion)
        .where(col(QuestionVersion.id).in_(ids))
        .order_by(col(QuestionVersion.bank_id), col(QuestionVersion.id))
    )
    return list(rows.scalars())
