"""The LLM grade cache in the database, keyed by (question version, normalised answer, model).

Every LLM grade looks the cache up once and writes to it once, so under a busy grading worker
these are many small round trips competing with the worker's own claims and stores for pooled
connections (and, on SQLite, for the single write lock). Two things keep them few:

* **Reads are coalesced.** The first ``get`` starts one reader task; the lookups that arrive
  while its query runs wait for the next query, which answers all of them with one
  ``SELECT ... WHERE key IN (...)``. A lone lookup is not delayed.
* **Writes are behind.** ``put`` queues the entry and returns; one writer task inserts whatever
  is queued in one transaction, again and again until the queue is empty. An entry waiting to
  be written is served from memory by ``get``. :meth:`SqlGradeCache.flush` waits until the
  queue is written (the app calls it on close); a failed write is logged and dropped -- it is
  a cache, the grade itself is stored by the worker.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock, SystemClock
from bot.grading.base import Grade
from bot.grading.cache import grade_from_dict, grade_to_dict
from bot.storage.db import insert_ignore, transaction
from bot.storage.models import GradeCacheEntry

log = logging.getLogger(__name__)

#: Most keys one read asks for, and most entries one write inserts.
MAX_BATCH = 200


class SqlGradeCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock | None = None,
        *,
        max_batch: int = MAX_BATCH,
    ):
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._max_batch = max_batch
        #: keys waiting for the next read, with the lookups waiting on each
        self._wanted: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        #: entries queued for the next write, and the ones being written now
        self._queued: dict[str, tuple[dict[str, Any], datetime]] = {}
        self._writing: dict[str, dict[str, Any]] = {}
        self._writer: asyncio.Task[None] | None = None
        #: round trips made (tests and the benchmark read them)
        self.reads = 0
        self.writes = 0

    async def get(self, key: str) -> Grade | None:
        unwritten = self._queued.get(key)
        data = unwritten[0] if unwritten is not None else self._writing.get(key)
        if data is None:
            future: asyncio.Future[dict[str, Any] | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._wanted.setdefault(key, []).append(future)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="grade-cache-reader")
            data = await future
        return grade_from_dict(data) if data is not None else None

    async def put(self, key: str, grade: Grade) -> None:
        if key not in self._queued and key not in self._writing:
            self._queued[key] = (grade_to_dict(grade), self._clock.now())
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="grade-cache-writer")

    async def flush(self) -> None:
        """Wait until every entry queued so far is written (or its write has failed)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _read(self) -> None:
        while self._wanted:
            keys = list(self._wanted)[: self._max_batch]
            waiting = {key: self._wanted.pop(key) for key in keys}
            self.reads += 1
            try:
                async with self._sessions() as session:
                    rows = await session.execute(
                        sa.select(col(GradeCacheEntry.key), col(GradeCacheEntry.grade)).where(
                            col(GradeCacheEntry.key).in_(keys)
                        )
                    )
                    found: dict[str, dict[str, Any]] = {key: grade for key, grade in rows.all()}
            except Exception as exc:  # every lookup of this batch fails as a lone one would
                for futures in waiting.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for key, futures in waiting.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))

    async def _write(self) -> None:
        while self._queued:
            keys = list(self._queued)[: self._max_batch]
            batch = {key: self._queued.pop(key) for key in keys}
            self._writing.update((key, data) for key, (data, _) in batch.items())
            self.writes += 1
            try:
                async with transaction(self._sessions) as session:
                    await session.execute(
                        insert_ignore(session, GradeCacheEntry)
                        .values(
                            [
                                {"key": key, "grade": data, "created_at": created_at}
                                for key, (data, created_at) in batch.items()
                            ]
                        )
                        .on_conflict_do_nothing()
                    )
            except Exception:
                log.warning(
                    "could not write %d grade cache entries; they are dropped",
                    len(batch),
                    exc_info=True,
                )
            finally:
                for key in keys:
                    self._writing.pop(key, None)
