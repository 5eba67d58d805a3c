"""The LLM grade cache in the database, keyed by (question version, normalised answer, model)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.grading.base import Grade
from bot.grading.cache import grade_from_dict, grade_to_dict
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import GradeCacheEntry


class SqlGradeCache:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None):
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def get(self, key: str) -> Grade | None:
        async with self._sessions() as session:
            entry = await session.get(GradeCacheEntry, key)
            return grade_from_dict(entry.grade) if entry is not None else None

    async def put(self, key: str, grade: Grade) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                insert_ignore(session, GradeCacheEntry)
                .values(key=key, grade=grade_to_dict(grade), created_at=self._clock.now())
                .on_conflict_do_nothing()
            )
