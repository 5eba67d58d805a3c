"""Alembic migrations: they build the schema, step down and up again, and match the models; a new
database built from the models in one step equals a migrated one."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, col

import bot.storage.models  # noqa: F401
from bot.domain.bank import Difficulty
from bot.storage import migrate
from bot.storage.db import create_engine, session_factory
from bot.storage.models import (
    Answer,
    AnswerStatus,
    Channel,
    DailyPost,
    GradeRecord,
    Member,
    Platform,
    QuestionVersion,
    Workspace,
)
from bot.storage.verdicts import pack_verdicts, unpack_verdicts
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


@pytest.fixture
def second_empty_database_url(db_backend, tmp_path):
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'built.db'}"
        return
    if not _postgres_server_url():
        pytest.skip("TEST_POSTGRES_URL not set")
    url = create_scratch_postgres_database("ibot_built")
    yield url
    drop_scratch_postgres_database(url)


def _schema(connection) -> dict[str, dict[str, object]]:
    """Everything reflection sees of each table: columns (type, nullability, server default),
    primary and foreign keys, indexes (with a partial index's condition), unique and check
    constraints. Columns are compared by name: a migration appends the columns it adds."""
    inspector = sa.inspect(connection)

    def plain(item: dict) -> str:
        return repr(
            {
                key: {name: str(value) for name, value in item[key].items()}
                if isinstance(item[key], dict)
                else item[key]
                for key in sorted(item)
            }
        )

    schema = {}
    for table in inspector.get_table_names():
        schema[table] = {
            "columns": sorted(
                (
                    column["name"],
                    str(column["type"]),
                    column["nullable"],
                    str(column.get("default")),
                )
                for column in inspector.get_columns(table)
            ),
            "primary key": plain(inspector.get_pk_constraint(table)),
            "foreign keys": sorted(map(plain, inspector.get_foreign_keys(table))),
            "indexes": sorted(map(plain, inspector.get_indexes(table))),
            "unique": sorted(map(plain, inspector.get_unique_constraints(table))),
            "checks": sorted(map(plain, inspector.get_check_constraints(table))),
        }
    return schema


def _build(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            assert await migrate.is_empty(engine)
            await migrate.build_schema(engine)
            assert not await migrate.is_empty(engine)
            assert not await migrate.upgrade_needed(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_new_database_built_from_the_models_equals_the_migrated_one(
    empty_database_url, second_empty_database_url
):
    migrate.upgrade(empty_database_url)
    _build(second_empty_database_url)
    migrated = _inspect(empty_database_url, _schema)
    built = _inspect(second_empty_database_url, _schema)
    assert (
        set(built)
        == set(migrated)
        == {t.name for t in SQLModel.metadata.sorted_tables} | {"alembic_version"}
    )
    for table in migrated:
        assert built[table] == migrated[table], table
    assert _inspect(second_empty_database_url, _drift) == []
    # the built database is at head and later migrations apply to it as to a migrated one
    assert (
        _inspect(
            second_empty_database_url,
            lambda c: MigrationContext.configure(c).get_current_revision(),
        )
        == migrate.head_revision()
    )
    migrate.downgrade(second_empty_database_url, "-1")
    migrate.upgrade(second_empty_database_url)
    assert _inspect(second_empty_database_url, _schema) == migrated


def test_a_failed_build_leaves_the_database_empty(empty_database_url, monkeypatch):
    def no_head():  # read after the tables are created, before the stamp
        raise RuntimeError("the stamp failed")

    monkeypatch.setattr(migrate, "script_head", no_head)
    with pytest.raises(RuntimeError, match="the stamp failed"):
        _build(empty_database_url)
    assert _inspect(empty_database_url, lambda c: sa.inspect(c).get_table_names()) == []


def test_scripts_that_are_not_one_chain_are_stamped_by_alembic(empty_database_url, monkeypatch):
    monkeypatch.setattr(migrate, "script_head", lambda: None)
    _build(empty_database_url)

    def revision(connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    assert _inspect(empty_database_url, revision) == migrate.head_revision()
    assert _inspect(empty_database_url, _drift) == []


def test_single_head_and_every_revision_steps_down():
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert revision.module.downgrade is not None


def test_the_quick_start_check_agrees_with_alembic(empty_database_url, tmp_path):
    """``upgrade_needed`` reads the scripts and the version table without Alembic; it must
    say what Alembic says: behind when empty or one step down, current at head."""
    assert migrate.script_head() == migrate.head_revision()

    def needed() -> bool:
        async def run() -> bool:
            engine = create_engine(empty_database_url)
            try:
                return await migrate.upgrade_needed(engine)
            finally:
                await engine.dispose()

        return asyncio.run(run())

    assert needed()
    migrate.upgrade(empty_database_url)
    assert not needed()
    migrate.downgrade(empty_database_url, "-1")
    assert needed()


def test_the_script_head_is_none_when_the_scripts_branch(monkeypatch, tmp_path):
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    for name, parent in (("a", None), ("b", "a"), ("c", "a")):
        down = f"'{parent}'" if parent else "None"
        (versions / f"{name}.py").write_text(
            f"revision: str = '{name}'\ndown_revision: str | None = {down}\n"
        )
    monkeypatch.setattr(migrate, "migrations_dir", lambda: tmp_path / "migrations")
    assert migrate.script_head() is None  # two heads: Alembic decides
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert migrate.script_head() is None  # a merge is not a plain chain: Alembic decides


def test_an_installed_package_finds_migrations_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(
        migrate, "SOURCE_TREE_MIGRATIONS", tmp_path / "site-packages" / "migrations"
    )
    monkeypatch.chdir(tmp_path)
    assert migrate.migrations_dir() == tmp_path / "migrations"


def _seed_0001(connection) -> None:
    """Rows as the first release wrote them (plain SQL, so later models do not matter)."""
    now = "2026-01-05 09:00:00"
    statements = [
        "INSERT INTO workspace (id, platform, external_id, name, timezone, created_at) "
        f"VALUES (1, 'console', 'local', 'Terminal', 'UTC', '{now}')",
        "INSERT INTO channel (id, workspace_id, external_id, name, post_time, timezone, topics, "
        "answer_window_minutes, enabled, created_at, updated_at) VALUES (1, 1, 'terminal', 't', "
        f"'08:30', 'Europe/Berlin', '[]', 1380, true, '{now}', '{now}')",
        f"INSERT INTO member (id, workspace_id, external_id, display_name, created_at) "
        f"VALUES (1, 1, 'ada', 'Ada', '{now}')",
        "INSERT INTO question (id, bank_id, content_hash, topic, difficulty, prompt, reference, "
        "key_points, tags, active, created_at) VALUES (1, 'q-1', 'abc', 'cnn', 'beginner', 'P?', "
        f"'R.', '[]', '[]', true, '{now}')",
        "INSERT INTO daily_post (id, channel_id, local_date, question_id, opened_at, closes_at, "
        f"delivered_at, message_ref) VALUES (1, 1, '2026-01-05', 1, '{now}', '{now}', '{now}', 'm1')",
        "INSERT INTO answer (id, member_id, question_id, daily_post_id, text, status, scored, "
        "superseded, attempts, submitted_at, updated_at) VALUES "
        f"(1, 1, 1, 1, 'daily answer', 'graded', true, false, 1, '{now}', '{now}'), "
        f"(2, 1, 1, NULL, 'practice answer', 'graded', false, false, 1, '{now}', '{now}')",
    ]
    for statement in statements:
        connection.execute(sa.text(statement))


def test_an_existing_database_keeps_its_data_through_every_upgrade(empty_database_url):
    migrate.upgrade(empty_database_url, "0001")

    async def seed() -> None:
        engine = create_engine(empty_database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_seed_0001)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    migrate.upgrade(empty_database_url)

    def read(connection):
        channel = connection.execute(
            sa.text("SELECT post_time, post_days, cadence, paused, enabled FROM channel")
        ).one()
        answers = connection.execute(
            sa.text("SELECT id, kind, reply_context FROM answer ORDER BY id")
        ).all()
        question = connection.execute(sa.text("SELECT scope, track, llm_only FROM question")).one()
        return channel, answers, question

    channel, answers, question = _inspect(empty_database_url, read)
    assert str(channel[0]).startswith("08:30")
    days = json.loads(channel[1]) if isinstance(channel[1], str) else channel[1]
    assert days == list(range(7))  # existing channels keep posting every day
    assert (channel[2], bool(channel[3]), bool(channel[4])) == ("daily", False, True)
    assert [(row[0], row[1]) for row in answers] == [(1, "daily"), (2, "practice")]
    assert tuple(question) == ("", "deep-learning", False)
    assert _inspect(empty_database_url, _drift) == []


async def add_as_of_revision(session: Any, row: Any) -> None:
    """Insert a model row into a database at an older revision: only the columns its table has
    there (a column a later revision adds is left out)."""
    table = type(row).__table__

    def columns(sync_session: Any) -> set[str]:
        inspector = sa.inspect(sync_session.connection())
        return {column["name"] for column in inspector.get_columns(table.name)}

    present = await session.run_sync(columns)
    values = {c.name: getattr(row, c.name) for c in table.columns if c.name in present}
    await session.execute(sa.insert(table).values(**values))


def test_the_leaderboard_totals_are_backfilled_from_the_score_events(empty_database_url):
    """0005 fills ``leaderboard_total`` from existing score events, each scope in its own zone,
    0006 the events' grade scores and the rows' score sums; both step down to 0004 and up
    again."""
    migrate.upgrade(empty_database_url, "0004")
    sunday_night = datetime(2026, 1, 11, 23, 30, tzinfo=UTC)  # Monday 00:30 in Berlin
    monday = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    async def seed() -> None:
        engine = create_engine(empty_database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                session.add(
                    Workspace(
                        id=1, platform=Platform.CONSOLE, external_id="local", created_at=monday
                    )
                )
                await session.flush()
                await add_as_of_revision(
                    session,
                    Channel(
                        id=1,
                        workspace_id=1,
                        external_id="c",
                        timezone="Europe/Berlin",
                        created_at=monday,
                        updated_at=monday,
                    ),
                )
                session.add(Member(id=1, workspace_id=1, external_id="ada", created_at=monday))
                session.add(
                    QuestionVersion(
                        id=1,
                        bank_id="q-1",
                        content_hash="abc",
                        topic="cnn",
                        difficulty=Difficulty.BEGINNER,
                        prompt="P?",
                        reference="R.",
                        created_at=monday,
                    )
                )
                await session.flush()
                for number, (at, points) in enumerate(((monday, 7), (sunday_night, 5)), start=1):
                    session.add(
                        DailyPost(
                            id=number,
                            channel_id=1,
                            local_date=at.date(),
                            question_id=1,
                            opened_at=at,
                            closes_at=at,
                        )
                    )
                    await session.flush()
                    session.add(
                        Answer(
                            id=number,
                            member_id=1,
                            question_id=1,
                            daily_post_id=number,
                            text="an answer",
                            status=AnswerStatus.GRADED,
                            scored=True,
                            submitted_at=at,
                            updated_at=at,
                        )
                    )
                    await session.flush()
                    # the grade and the score event as revision 0004 stored them
                    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
                    await session.execute(
                        sa.text(
                            "INSERT INTO grade (id, answer_id, grader, model, score, verdicts, "
                            "factual_errors, flags, feedback, provisional, prompt_tokens, "
                            "completion_tokens, created_at) VALUES (:id, :id, 'llm', '', "
                            f":score, '[]', '[]', '[]', '', false, 0, 0, '{stamp}')"
                        ),
                        {"id": number, "score": 20 * number + 10},
                    )
                    await session.execute(
                        sa.text("UPDATE answer SET current_grade_id = :id WHERE id = :id"),
                        {"id": number},
                    )
                    await session.execute(
                        sa.text(
                            "INSERT INTO score_event (workspace_id, channel_id, member_id, "
                            "answer_id, daily_post_id, points, member_local_date, occurred_at) "
                            f"VALUES (1, 1, 1, :id, :id, :points, '{at.date()}', '{stamp}')"
                        ),
                        {"id": number, "points": points},
                    )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    migrate.upgrade(empty_database_url)

    def read(connection):
        return [
            tuple(str(value)[:16] if not isinstance(value, int) else value for value in row)
            for row in connection.execute(
                sa.text(
                    "SELECT channel_id, member_id, points, answers, last_at, week_start, "
                    "week_points, week_answers, month_start, month_points, month_answers "
                    "FROM leaderboard_total ORDER BY channel_id"
                )
            )
        ]

    workspace_row, channel_row = _inspect(empty_database_url, read)
    # 0006: each event took its grade's score, each row the sum of its events' scores
    scores = _inspect(
        empty_database_url,
        lambda connection: [
            [value for (value,) in connection.execute(sa.text(query))]
            for query in (
                "SELECT score FROM score_event ORDER BY id",
                "SELECT score_sum FROM leaderboard_total ORDER BY channel_id",
            )
        ],
    )
    # the workspace (UTC) still had the week of 5 January; the channel's week had turned
    assert workspace_row == (
        0,
        1,
        12,
        2,
        "2026-01-11 23:30",
        "2026-01-05",
        12,
        2,
        "2026-01-01",
        12,
        2,
    )
    assert channel_row == (1, 1, 12, 2, "2026-01-11 23:30", "2026-01-12", 5, 1, "2026-01-01", 12, 2)
    assert scores == [[30, 50], [80, 80]]
    migrate.downgrade(empty_database_url, "0004")
    assert "leaderboard_total" not in _inspect(empty_database_url, _tables)
    migrate.upgrade(empty_database_url)
    assert _inspect(empty_database_url, read) == [workspace_row, channel_row]


def test_the_app_builds_a_new_database_and_migrates_an_existing_one(
    empty_database_url, second_empty_database_url, monkeypatch
):
    """``BotApp.create``: an empty database is built in one step; one at an older revision goes
    through the migrations; both end at head with the bank synced."""
    from bot import app as app_module
    from bot.app import BotApp
    from bot.clock import ManualClock
    from bot.config import load_settings
    from tests.adapters.test_console import MINI_BANK
    from tests.fakes.graders import ScriptedGrader

    calls: list[str] = []

    def spy(name, real):
        async def wrapper(*args, **kwargs):
            calls.append(name)
            return await real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(app_module, "build_schema", spy("build", app_module.build_schema))
    monkeypatch.setattr(app_module, "upgrade_async", spy("upgrade", app_module.upgrade_async))

    async def start(url: str) -> int:
        settings = load_settings(database_url=url, questions_dir=MINI_BANK, bank_cache_dir=None)
        grader = ScriptedGrader()
        bot = await BotApp.create(
            settings,
            clock=ManualClock(datetime(2026, 3, 2, 8, tzinfo=UTC)),
            graders=(grader, grader),
        )
        try:
            assert bot.sync_report is not None
            return bot.sync_report.added
        finally:
            await bot.close()

    def revision(connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    assert asyncio.run(start(empty_database_url)) > 0
    assert calls == ["build"]
    migrate.upgrade(second_empty_database_url, "0004")
    assert asyncio.run(start(second_empty_database_url)) > 0
    assert calls == ["build", "upgrade"]
    assert asyncio.run(start(empty_database_url)) == 0  # a restart: nothing to build or add
    assert calls == ["build", "upgrade"]
    head = migrate.head_revision()
    assert (
        _inspect(empty_database_url, revision)
        == _inspect(second_empty_database_url, revision)
        == head
    )


def test_verdicts_are_packed_by_0007_and_unpacked_by_its_downgrade(empty_database_url):
    """Rows written as JSON before 0007 read back equal through the model after it, take fewer
    bytes, and are JSON again, equal, one step down."""
    migrate.upgrade(empty_database_url, "0001")
    verdicts = [
        {
            "key_point": "Momentum averages past gradients",
            "status": "covered",
            "evidence": "it keeps a running average of the gradients, so noise cancels — mostly",
            "hint": "",
        },
        {
            "key_point": "Bias correction early on",
            "status": "missing",
            "evidence": "",
            "hint": "Not in your answer: Bias correction early on",
        },
    ]
    odd = [{"note": "a shape no grader writes", "n": [1, 2.5, None]}]
    stamp = "2026-01-05 09:00:00"

    def seed(connection) -> None:
        for grade_id, value in ((1, verdicts), (2, []), (3, odd)):
            connection.execute(
                sa.text(
                    "INSERT INTO grade (id, answer_id, grader, model, score, verdicts, "
                    "factual_errors, flags, feedback, provisional, prompt_tokens, "
                    "completion_tokens, created_at) VALUES (:id, 1, 'llm', '', 50, :verdicts, "
                    f"'[]', '[]', '', false, 0, 0, '{stamp}')"
                ),
                {"id": grade_id, "verdicts": json.dumps(value)},
            )

    async def run(function):
        engine = create_engine(empty_database_url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(function)
        finally:
            await engine.dispose()

    asyncio.run(run(_seed_0001))
    migrate.upgrade(empty_database_url, "0006")
    asyncio.run(run(seed))
    migrate.upgrade(empty_database_url, "0007")
    stored = asyncio.run(
        run(
            lambda connection: connection.execute(
                sa.text("SELECT verdicts FROM grade ORDER BY id")
            ).all()
        )
    )
    assert [unpack_verdicts(bytes(value)) for (value,) in stored] == [verdicts, [], odd]
    assert isinstance(stored[0][0], bytes) and len(stored[0][0]) < len(json.dumps(verdicts)) / 2
    migrate.downgrade(empty_database_url, "0006")
    back = asyncio.run(
        run(
            lambda connection: connection.execute(
                sa.text("SELECT verdicts FROM grade ORDER BY id")
            ).all()
        )
    )
    assert [json.loads(value) if isinstance(value, str) else value for (value,) in back] == [
        verdicts,
        [],
        odd,
    ]


def test_grade_bodies_are_packed_by_0008_and_unpacked_by_its_downgrade(empty_database_url):
    """Grades stored as 0007 left them (packed verdicts, feedback as text) read back equal
    through the model after 0008, against their own answer and question; their body is
    smaller than the two columns were; one step down they are the old columns again, equal."""
    migrate.upgrade(empty_database_url, "0001")
    verdicts = [
        {
            "key_point": "R.",
            "status": "covered",
            "evidence": "daily answer",
            "hint": "",
        },
        {
            "key_point": "Bias correction early on",
            "status": "missing",
            "evidence": "",
            "hint": "The reference puts it as: \u201cR.\u201d",
        },
    ]
    odd = [{"note": "a shape no grader writes", "n": [1, 2.5, None]}]
    feedback = "You covered 1 of 2 key points. Still missing: Bias correction early on."
    stamp = "2026-01-05 09:00:00"
    # grade id, answer id, verdicts, feedback
    grades = [
        (1, 1, verdicts, feedback),
        (2, 2, [], ""),
        (3, 2, odd, "an override\x1dwith a separator"),
        (4, 1, [], "An admin set this score: fair"),
    ]

    def seed(connection) -> None:
        for grade_id, answer_id, value, text in grades:
            connection.execute(
                sa.text(
                    "INSERT INTO grade (id, answer_id, grader, model, score, verdicts, "
                    "factual_errors, flags, feedback, provisional, prompt_tokens, "
                    "completion_tokens, created_at) VALUES (:id, :answer, 'llm', '', 50, "
                    f":verdicts, '[]', '[]', :feedback, false, 0, 0, '{stamp}')"
                ).bindparams(sa.bindparam("verdicts", type_=sa.LargeBinary())),
                {
                    "id": grade_id,
                    "answer": answer_id,
                    "verdicts": pack_verdicts(value),
                    "feedback": text,
                },
            )

    async def run(function):
        engine = create_engine(empty_database_url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(function)
        finally:
            await engine.dispose()

    asyncio.run(run(_seed_0001))
    migrate.upgrade(empty_database_url, "0007")
    asyncio.run(run(seed))
    before = asyncio.run(
        run(
            lambda connection: connection.execute(
                sa.text("SELECT length(verdicts) + length(feedback) FROM grade ORDER BY id")
            ).all()
        )
    )
    migrate.upgrade(empty_database_url, "0008")

    async def read_models():
        engine = create_engine(empty_database_url)
        try:
            async with session_factory(engine)() as session:
                rows = await session.execute(
                    sa.select(GradeRecord, Answer, QuestionVersion)
                    .select_from(GradeRecord)
                    .join(Answer, col(Answer.id) == GradeRecord.answer_id)
                    .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
                    .order_by(col(GradeRecord.id))
                )
                return [
                    (record.content(answer, question), len(record.body))
                    for record, answer, question in rows.all()
                ]
        finally:
            await engine.dispose()

    read = asyncio.run(read_models())
    assert [(content.verdicts, content.feedback) for content, _ in read] == [
        (value, text) for _, _, value, text in grades
    ]
    assert read[1][1] == 0  # nothing to say: no bytes
    assert read[0][1] < before[0][0] * 3 / 4  # (short texts; the bench measures real ones)
    # at 0008 the grade table is what the model says (later revisions change other tables)
    assert [d for d in _inspect(empty_database_url, _drift) if "grade" in str(d)] == []
    migrate.downgrade(empty_database_url, "0007")
    back = asyncio.run(
        run(
            lambda connection: connection.execute(
                sa.text("SELECT verdicts, feedback FROM grade ORDER BY id")
            ).all()
        )
    )
    assert [(unpack_verdicts(bytes(value)), text) for value, text in back] == [
        (value, text) for _, _, value, text in grades
    ]
