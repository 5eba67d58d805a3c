"""Schema migrations with Alembic, configured in code (the scripts live in ``migrations/``).

Alembic (with Mako and Pygments behind it) is imported only when a migration runs: a start whose
schema is current checks the version table and the scripts' revision lines itself
(``upgrade_needed``), which keeps those imports out of every ordinary start.

A database with no tables at all is not taken through every migration: ``build_schema`` creates
the tables from the models and stamps the head revision in one transaction, as Alembic
recommends for new databases. A test checks that this schema equals the migrated one on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

SOURCE_TREE_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrations_dir() -> Path:
    """``migrations/`` beside the package in a checkout (editable install), else in the working
    directory (an installed package run from the project folder, as in the Docker image)."""
    if SOURCE_TREE_MIGRATIONS.is_dir():
        return SOURCE_TREE_MIGRATIONS
    return Path.cwd() / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Run the upgrade from async code (Alembic's env runs its own event loop in a thread)."""
    await asyncio.to_thread(upgrade, database_url, revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's Alembic revision (None for an empty database)."""

    def read(connection: Connection) -> str | None:
        from alembic.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]*)['\"]|(None))\s*$", re.MULTILINE
)


def script_head() -> str | None:
    """The head revision read from the scripts' ``revision`` / ``down_revision`` lines, without
    Alembic; None when they do not form one plain chain (then ask Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((migrations_dir() / "versions").glob("*.py")):
        text = script.read_text(encoding="utf-8")
        lines = _REVISION_LINE.findall(text)
        if len(lines) != len(re.findall(r"^(?:down_)?revision\b", text, re.MULTILINE)):
            return None  # a form this reader does not know (a merge's tuple...)
        found = {name: value for name, value, none in lines if not none}
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def stored_revision(engine: AsyncEngine) -> str | None:
    """The revision in the database's ``alembic_version`` table (None: no table, no row)."""
    async with engine.connect() as connection:
        present = await connection.run_sync(
            lambda sync: sa.inspect(sync).has_table("alembic_version")
        )
        if not present:
            return None
        rows = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        versions = [row[0] for row in rows]
    return versions[0] if len(versions) == 1 else None


async def is_empty(engine: AsyncEngine) -> bool:
    """Whether the database has no table at all (a new database, not a damaged one)."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    return not names


#: Alembic's version table as Alembic creates it (the schema test compares the two), so a new
#: database can be stamped without importing Alembic (some 55 ms and 9 MB of a start).
_VERSION_TABLE = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _create_and_stamp(connection: Connection) -> None:
    from sqlmodel import SQLModel

    import bot.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

    SQLModel.metadata.create_all(connection)
    head = script_head()
    if head is None:  # scripts that are not one plain chain: Alembic stamps
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
        MigrationContext.configure(connection).stamp(scripts, "head")
        return
    _VERSION_TABLE.create(connection)
    connection.execute(_VERSION_TABLE.insert().values(version_num=head))


async def build_schema(engine: AsyncEngine) -> None:
    """Create every table from the models and stamp the head revision, in one transaction (on
    SQLite too, where DDL would otherwise commit statement by statement): a failure leaves the
    database empty, never half built. Only for a database with no tables (``is_empty``)."""
    async with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # the driver opens transactions only for DML; an explicit BEGIN holds the DDL too
            await connection.exec_driver_sql("BEGIN")
        try:
            await connection.run_sync(_create_and_stamp)
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()


async def upgrade_needed(engine: AsyncEngine) -> bool:
    """Whether the schema is behind the migrations (a quick check before starting Alembic)."""
    head = script_head() or head_revision()
    return await stored_revision(engine) != head


def resolve_downgrade_target(current: str, revision: str) -> str | None:
    """The revision a downgrade from ``current`` to ``revision`` ends at; None for the empty
    schema (below the first revision: every table dropped)."""
    from alembic.script import ScriptDirectory

    if revision in {"base", "0"}:
        return None
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if revision.startswith("-") and revision[1:].isdigit():
        target: str | None = current
        for _ in range(int(revision[1:])):
            if target is None:
                return None
            down = scripts.get_revision(target).down_revision
            target = down if isinstance(down, str) or down is None else down[0]
        return target
    return scripts.get_revision(revision).revision


def backup_sqlite(database_url: str, target: Path | None = None) -> Path | None:
    """Copy a SQLite database with its online backup API (safe while the bot writes); None for
    other databases. The copy goes beside the file unless ``target`` is given."""
    import sqlite3
    from datetime import datetime

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    source = Path(url.database)
    if not source.exists():
        raise FileNotFoundError(f"no database file at {source}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = target or source.with_name(f"{source.stem}.backup-{stamp}{source.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def backup_postgres(database_url: str, target: Path | None = None) -> Path:
    """``pg_dump --format=custom`` of a PostgreSQL database (restore with ``pg_restore``)."""
    import os
    import shutil
    import subprocess
    from datetime import datetime

    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise FileNotFoundError("pg_dump is not installed (PostgreSQL client tools)")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = target or Path("data") / f"{url.database}.backup-{stamp}.dump"
    target.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PGPASSWORD=url.password or "")
    command = [pg_dump, "--format=custom", f"--file={target}", f"--dbname={url.database}"]
    if url.host:
        command.append(f"--host={url.host}")
    if url.port:
        command.append(f"--port={url.port}")
    if url.username:
        command.append(f"--username={url.username}")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["pg_dump failed"])[-1]
        raise OSError(reason)
    return target


def downgrade_losses(current: str, target: str) -> list[str]:
    """What stepping back from ``current`` to ``target`` drops for good: the ``DOWNGRADE_LOSES``
    note of each revision undone (revisions whose data is derived or converted back have none).
    Empty when ``target`` is not below ``current`` (Alembic then refuses the downgrade)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    losses: list[str] = []
    revision: str | None = current
    while revision != target:
        if revision is None:
            return []
        script = scripts.get_revision(revision)
        note = getattr(script.module, "DOWNGRADE_LOSES", None)
        if note:
            losses.append(f"{revision}: {note}")
        down = script.down_revision
        revision = down if isinstance(down, str) or down is None else down[0]
    return losses
