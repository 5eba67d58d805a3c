"""The SQL grade cache: concurrent lookups share one query, writes are batched behind the grade."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain.rubric import Coverage, KeyPointVerdict
from bot.grading.base import Grade
from bot.storage.db import session_factory
from bot.storage.grade_cache import SqlGradeCache
from bot.storage.models import GradeCacheEntry


def _grade(score: int) -> Grade:
    return Grade(
        score=score,
        verdicts=(KeyPointVerdict("a point", Coverage.COVERED, f"quote {score}", ""),),
        feedback=f"feedback {score}",
        grader="llm",
        model="m",
    )


async def _rows(sessions) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(sa.select(GradeCacheEntry.key, GradeCacheEntry.grade))
        return {key: grade["score"] for key, grade in rows.all()}


async def test_concurrent_lookups_share_queries_and_each_gets_its_own_entry(sessions):
    writer = SqlGradeCache(sessions)
    for number in range(0, 40, 2):  # every even key is cached
        await writer.put(f"k{number}", _grade(number))
    await writer.flush()
    assert writer.writes == 1  # twenty puts queued in one loop turn: one insert

    cache = SqlGradeCache(sessions)
    keys = [f"k{number}" for number in range(40)] + ["k4", "k5"]  # repeats wait on the same row
    found = await asyncio.gather(*(cache.get(key) for key in keys))
    expected = [_grade(number) if number % 2 == 0 else None for number in range(40)]
    assert found == [*expected, _grade(4), None]
    assert cache.reads <= 2  # the first lookup alone, then everything that queued behind it


async def test_a_queued_entry_is_served_before_it_is_written_and_written_once(sessions):
    cache = SqlGradeCache(sessions)
    await cache.put("k", _grade(70))
    await cache.put("k", _grade(10))  # the first grade of a key wins, as with the table's key
    assert await cache.get("k") == _grade(70)
    assert cache.reads == 0  # served from the write queue: no query (the write itself may race)
    await cache.flush()
    assert await _rows(sessions) == {"k": 70}
    await cache.put("k", _grade(10))
    await cache.flush()
    assert await _rows(sessions) == {"k": 70}
    assert await SqlGradeCache(sessions).get("k") == _grade(70)


async def test_large_queues_are_written_in_batches(sessions):
    cache = SqlGradeCache(sessions, max_batch=7)
    for number in range(20):
        await cache.put(f"k{number}", _grade(number))
    await cache.flush()
    assert cache.writes == 3
    assert await _rows(sessions) == {f"k{number}": number for number in range(20)}
    reader = SqlGradeCache(sessions, max_batch=7)
    found = await asyncio.gather(*(reader.get(f"k{number}") for number in range(20)))
    assert [grade.score for grade in found if grade is not None] == list(range(20))


async def test_a_failed_write_is_dropped_and_a_failed_read_raises(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'bot.db'}")
    cache = SqlGradeCache(session_factory(engine))
    try:
        await cache.put("k", _grade(50))
        await cache.flush()  # logged and dropped: the grade itself is stored by the worker
        assert cache.writes == 1
        errors = await asyncio.gather(cache.get("k"), cache.get("j"), return_exceptions=True)
        assert all("unable to open database file" in str(error) for error in errors)
        assert cache.reads == 1
    finally:
        await engine.dispose()
