"""Schema migrations with Alembic, configured in code (the scripts live in ``migrations/``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

SOURCE_TREE_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir() -> Path:
    """``migrations/`` beside the package in a checkout (editable install), else in the working
    directory (an installed package run from the project folder, as in the Docker image)."""
    if SOURCE_TREE_MIGRATIONS.is_dir():
        return SOURCE_TREE_MIGRATIONS
    return Path.cwd() / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Run the upgrade from async code (Alembic's env runs its own event loop in a thread)."""
    await asyncio.to_thread(upgrade, database_url, revision)
