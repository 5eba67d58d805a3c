"""Synchronise the YAML bank into the question table by id and content hash.

An edited question gets a new version row; earlier versions stay (inactive) so old answers keep
the text they answered. A question removed from the bank becomes inactive.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.bank import Bank, Question
from bot.storage.db import transaction
from bot.storage.models import QuestionVersion


@dataclass(frozen=True)
class SyncReport:
    added: int
    new_versions: int
    unchanged: int
    retired: int


def question_row(question: Question, clock: Clock) -> QuestionVersion:
    return QuestionVersion(
        bank_id=question.id,
        content_hash=question.content_hash,
        topic=question.topic,
        difficulty=question.difficulty.value,
        prompt=question.prompt,
        reference=question.reference,
        key_points=[point.model_dump() for point in question.key_points],
        tags=list(question.tags),
        active=True,
        created_at=clock.now(),
    )


async def sync_bank(
    sessions: async_sessionmaker[AsyncSession], bank: Bank, clock: Clock
) -> SyncReport:
    async with transaction(sessions) as session:
        rows = (await session.execute(sa.select(QuestionVersion))).scalars().all()
        by_key = {(row.bank_id, row.content_hash): row for row in rows}
        known_ids = {row.bank_id for row in rows}
        live = {(question.id, question.content_hash) for question in bank.questions}
        added = new_versions = unchanged = retired = 0
        for question in bank.questions:
            key = (question.id, question.content_hash)
            row = by_key.get(key)
            if row is None:
                if question.id in known_ids:
                    new_versions += 1
                else:
                    added += 1
                session.add(question_row(question, clock))
            else:
                unchanged += 1
                # topic, difficulty and tags are not graded content: keep them current in place
                row.topic, row.difficulty = question.topic, question.difficulty.value
                row.tags = list(question.tags)
                if not row.active:
                    row.active = True
        for row in rows:
            if row.active and (row.bank_id, row.content_hash) not in live:
                row.active = False
                retired += 1
    return SyncReport(added, new_versions, unchanged, retired)
