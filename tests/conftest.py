"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL runs when TEST_POSTGRES_URL is set (a server URL; a throwaway database is created per
test session and dropped at the end). With REQUIRE_POSTGRES=1 (set by .ci/run) a missing or
unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401
from bot.clock import ManualClock
from bot.services import leaderboard
from bot.storage.db import create_engine, session_factory

pytest_plugins = ["tests.world", "tests.rich_world"]

POSTGRES_ENV = "TEST_POSTGRES_URL"


def _postgres_server_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


#: Removed with the interpreter at the end of the run.
_TEST_BANK_CACHE = tempfile.TemporaryDirectory(prefix="ibot-test-bank-cache-")


def pytest_sessionstart(session: pytest.Session) -> None:
    # the parsed-bank cache of the tests' runs stays out of the user's own cache folder
    if "BANK_CACHE_DIR" not in os.environ:
        os.environ["BANK_CACHE_DIR"] = _TEST_BANK_CACHE.name
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not _postgres_server_url():
        raise pytest.UsageError(f"REQUIRE_POSTGRES=1 but {POSTGRES_ENV} is not set")


async def _admin(server_url: str, statement: str) -> None:
    admin = create_engine(make_url(server_url).set(database="postgres").render_as_string(False))
    try:
        async with admin.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text(statement))
    finally:
        await admin.dispose()


def create_scratch_postgres_database(prefix: str) -> str:
    """Create an empty database on the test server; return its URL (asyncpg driver)."""
    server = _postgres_server_url()
    assert server is not None
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return make_url(server).set(database=name).render_as_string(False)


def drop_scratch_postgres_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(autouse=True)
def fresh_member_stats_statement() -> None:
    """Member stats' statement is built on first use and kept for the process; each test builds
    its own, so that every test reading member stats exercises ``_stats_query`` (mutation
    testing maps mutants to the tests that call the mutated function)."""
    leaderboard._stats_statement.cache_clear()


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    url = create_scratch_postgres_database("ibot_test")

    async def create_schema() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        await engine.dispose()

    asyncio.run(create_schema())
    yield url
    drop_scratch_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(db_backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    if db_backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    if not _postgres_server_url():
        pytest.skip(f"{POSTGRES_ENV} not set")
    return request.getfixturevalue("postgres_session_database")


@pytest.fixture
async def engine(database_url: str, db_backend: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        if db_backend == "sqlite":
            await connection.run_sync(SQLModel.metadata.create_all)
        else:
            tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
            await connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    # a Monday morning in UTC; tests move it explicitly
    return ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)
