"""Alembic migrations: they build the schema, step down and up again, and match the models."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401
from bot.storage import migrate
from bot.storage.db import create_engine
from tests.conftest import (
    _postgres_server_url,
    create_scratch_postgres_database,
    drop_scratch_postgres_database,
)


@pytest.fixture
def empty_database_url(db_backend, tmp_path):
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    if not _postgres_server_url():
        pytest.skip("TEST_POSTGRES_URL not set")
    url = create_scratch_postgres_database("ibot_migrations")
    yield url
    drop_scratch_postgres_database(url)


def _inspect(url: str, function):
    async def run():
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(function)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names()) - {"alembic_version"}


def _drift(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


def test_upgrade_downgrade_upgrade_round_trip(empty_database_url):
    expected = {table.name for table in SQLModel.metadata.sorted_tables}
    migrate.upgrade(empty_database_url)
    assert _inspect(empty_database_url, _tables) == expected
    migrate.downgrade(empty_database_url, "base")
    assert _inspect(empty_database_url, _tables) == set()
    migrate.upgrade(empty_database_url)
    assert _inspect(empty_database_url, _tables) == expected


def test_models_and_migrations_do_not_drift(empty_database_url):
    migrate.upgrade(empty_database_url)
    assert _inspect(empty_database_url, _drift) == []


def test_single_head_and_every_revision_steps_down():
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert revision.module.downgrade is not None


def test_an_installed_package_finds_migrations_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(
        migrate, "SOURCE_TREE_MIGRATIONS", tmp_path / "site-packages" / "migrations"
    )
    monkeypatch.chdir(tmp_path)
    assert migrate.migrations_dir() == tmp_path / "migrations"
