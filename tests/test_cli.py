"""The command line as an operator meets it: exit codes and one-line messages."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import cli
from bot.cli import app, with_app
from bot.config import load_settings
from bot.storage.models import Platform
from tests.adapters.test_console import MINI_BANK, ROOT
from tests.processes import bot_environment

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUESTIONS_DIR", str(ROOT / "questions"))


def test_bank_validate_on_the_shipped_bank():
    result = runner.invoke(app, ["bank", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_bank_validate_reports_file_line_field_and_fails(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (MINI_BANK / "basics.yaml").read_text().replace("difficulty: beginner", "difficulty: easy")
    )
    result = runner.invoke(app, ["bank", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:4: questions[0](id=basics-relu).difficulty:" in result.output
    assert "1 error(s)" in result.output


def test_bank_stats_prints_topics_and_seed_coverage():
    result = runner.invoke(app, ["bank", "stats"])
    assert result.exit_code == 0, result.output
    assert "deep-learning" in result.output and "attention-tra" in result.output
    assert "seed coverage" in result.output


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch):
    database = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    tables = {
        row[0]
        for row in sqlite3.connect(database).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"answer", "daily_post", "score_event", "alembic_version"} <= tables


def test_bad_configuration_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Atlantis/Central")
    result = runner.invoke(app, ["bank", "validate"])
    assert result.exit_code == 2
    assert "DEFAULT_TIMEZONE: unknown time zone 'Atlantis/Central'" in result.output


def test_a_chat_adapter_that_cannot_load_is_one_line(monkeypatch, tmp_path):
    from bot import runtime

    monkeypatch.setenv("DISCORD_TOKEN", "token")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setitem(runtime.ADAPTERS, "discord", "bot.adapters.no_such_module:Nothing")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 1
    assert "the discord adapter cannot be loaded" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bank_validate_keeps_the_yaml_parsers_context_and_reports_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text('questions:\n  - id: "unclosed\n    topic: x\n')
    (tmp_path / "b.yaml").write_text(
        (MINI_BANK / "basics.yaml").read_text().replace("weight: 4", "weight: 9")
    )
    result = runner.invoke(app, ["bank", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "a.yaml:4: invalid YAML: while scanning a quoted scalar (started on line 2)" in (
        result.output
    )
    assert "found unexpected end of stream" in result.output
    assert "b.yaml:" in result.output and "add up to" in result.output


def _database(monkeypatch, tmp_path) -> Path:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("QUESTIONS_DIR", str(MINI_BANK))
    return database


def test_downgrade_below_the_first_revision_asks_first_then_backs_up(tmp_path, monkeypatch):
    database = _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    from bot.storage.migrate import head_revision, resolve_downgrade_target

    previous = resolve_downgrade_target(head_revision(), "-1")
    step = runner.invoke(app, ["db", "downgrade"])  # one step: no data loss, no question
    assert step.exit_code == 0 and f"database at revision {previous}" in step.output
    refused = runner.invoke(app, ["db", "downgrade", "base"])  # not a terminal: no confirmation
    assert refused.exit_code == 1
    assert "downgrade cancelled; nothing changed" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    done = runner.invoke(app, ["db", "downgrade", "base", "--yes"])
    assert done.exit_code == 0, done.output
    assert "backed up the database to" in done.output
    assert list(tmp_path.glob("cli.backup-*.db"))
    again = runner.invoke(app, ["db", "downgrade"])
    assert again.exit_code == 1 and "no schema to step back from" in again.output
    assert "Traceback" not in again.output and len(again.output.strip().splitlines()) == 1
    assert database.exists()


def test_db_backup_copies_a_sqlite_file(tmp_path, monkeypatch):
    _database(monkeypatch, tmp_path)
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(app, ["db", "backup", "--to", str(tmp_path / "copy.db")])
    assert result.exit_code == 0, result.output
    tables = sqlite3.connect(tmp_path / "copy.db").execute("SELECT count(*) FROM answer")
    assert tables.fetchone() == (0,)


def test_db_backup_never_overwrites_a_file(tmp_path, monkeypatch):
    database = _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    earlier = tmp_path / "monday.db"
    assert runner.invoke(app, ["db", "backup", "--to", str(earlier)]).exit_code == 0
    with sqlite3.connect(database) as connection:  # the database moves on after that backup
        connection.execute("CREATE TABLE later (x)")
    for existing in (earlier, database):  # an older backup, or the database itself
        before = existing.read_bytes()
        result = runner.invoke(app, ["db", "backup", "--to", str(existing)])
        _one_line_error(result, 1, f"{existing} already exists")
        assert existing.read_bytes() == before


def test_outbox_list_and_retry_of_dead_messages(tmp_path, monkeypatch):
    database = _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    empty = runner.invoke(app, ["outbox", "list"])
    assert empty.exit_code == 0 and "outbox: empty" in empty.output
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO outbox (platform, workspace_external_id, channel_external_id, action, "
            "reply_context, card, topic, status, attempts, next_attempt_at, last_error, "
            "created_at) VALUES ('slack', 'T1', 'C1', 'post', '{}', "
            """'{"kind": "notice", "title": "x"}', 'question', 'dead', 8, """
            "'2026-01-05 09:00:00', 'PermanentDeliveryError:channel_not_found', "
            "'2026-01-05 09:00:00')"
        )
    listed = runner.invoke(app, ["outbox", "list", "--dead"])
    assert "1 dead" in listed.output and "channel_not_found" in listed.output
    retried = runner.invoke(app, ["outbox", "retry"])
    assert retried.exit_code == 0 and "re-queued 1 message(s)" in retried.output
    status = sqlite3.connect(database).execute("SELECT status, attempts FROM outbox").fetchone()
    assert status == ("pending", 0)


def test_channels_list_and_grades_failed_on_an_empty_bot(tmp_path, monkeypatch):
    _database(monkeypatch, tmp_path)
    channels = runner.invoke(app, ["channels", "list"])
    assert channels.exit_code == 0 and "no channels yet" in channels.output
    failed = runner.invoke(app, ["grades", "failed"])
    assert failed.exit_code == 0 and "no failed answers" in failed.output


def test_channels_list_shows_the_schedule_and_next_post_in_its_zone(tmp_path, monkeypatch):
    _database(monkeypatch, tmp_path)
    from bot.services.channels import ConfigChange

    async def configure(bot) -> int:
        admin = await bot.directory.resolve(
            Platform.SLACK,
            "T1",
            "U1",
            channel_external_id="C1",
            channel_name="prep",
            is_admin=True,
        )
        await bot.channels.update(
            admin,
            admin.channel_id,
            ConfigChange(enabled=True, days="sun-thu", post_time="08:15", timezone="Asia/Dubai"),
        )
        await bot.channels.pause(admin, admin.channel_id, until="2027-01-04", reason="holidays")
        return 0

    asyncio.run(with_app(load_settings(), configure))
    monkeypatch.setattr(cli.out, "width", 400)  # one line per row, whatever the terminal
    result = runner.invoke(app, ["channels", "list"])
    assert result.exit_code == 0, result.output
    assert "on Sun-Thu at 08:15 Asia/Dubai" in result.output
    assert "paused until 2027-01-04 (holidays)" in result.output
    assert "Mon 2027-01-04 08:15 Asia/Dubai" in result.output  # the next post, in its zone


@pytest.mark.postgres
def test_db_backup_of_postgresql_with_pg_dump_restores(tmp_path, monkeypatch):
    import shutil
    import subprocess

    from tests.conftest import create_scratch_postgres_database, drop_scratch_postgres_database

    if not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("TEST_POSTGRES_URL not set")
    if shutil.which("pg_dump") is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("pg_dump is required with REQUIRE_POSTGRES=1")
        pytest.skip("pg_dump is not installed")
    url = create_scratch_postgres_database("ibot_backup")
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        monkeypatch.setenv("DATABASE_URL", plain)
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(app, ["db", "backup", "--to", str(tmp_path / "bot.dump")])
        assert result.exit_code == 0, result.output
        listing = subprocess.run(
            ["pg_restore", "--list", str(tmp_path / "bot.dump")], capture_output=True, text=True
        )
        assert "TABLE public answer" in listing.stdout and "TABLE public outbox" in listing.stdout
    finally:
        drop_scratch_postgres_database(url)


async def test_terminal_practice_grades_in_a_thread_unless_the_setting_says_otherwise(
    monkeypatch, tmp_path
):
    from bot import cli
    from bot.config import load_settings

    chosen: list[bool] = []

    async def record(settings, body):
        chosen.append(settings.grading_process)
        return 0

    monkeypatch.setattr(cli, "with_app", record)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    await cli._run_console(load_settings(database_url=url))
    await cli._run_console(load_settings(database_url=url, grading_process=True))
    monkeypatch.setenv("GRADING_PROCESS", "true")
    await cli._run_console(load_settings(database_url=url))
    assert chosen == [False, True, True]


@pytest.fixture
def paused_collector():
    """The collector as ``python -m bot`` leaves it for the command line: paused."""
    import gc

    gc.disable()
    yield gc
    gc.enable()
    gc.unfreeze()


def test_a_one_shot_command_turns_the_paused_collector_back_on_first(paused_collector, monkeypatch):
    seen: list[bool] = []
    real = cli.load_settings

    def spy():
        seen.append(paused_collector.isenabled())
        return real()

    monkeypatch.setattr(cli, "load_settings", spy)
    result = runner.invoke(app, ["bank", "validate"])
    assert result.exit_code == 0, result.output
    assert seen == [True]  # on before the command did anything
    assert paused_collector.get_freeze_count() > 0


def test_run_and_serve_load_their_modules_then_turn_the_collector_on(
    paused_collector, monkeypatch, tmp_path
):
    """The app's modules are imported while the collector is paused; it is on (and they are
    frozen) before any database or bank work starts."""
    import sys

    seen: list[tuple[bool, bool]] = []

    def fake_run_async(coroutine):
        coroutine.close()
        seen.append((paused_collector.isenabled(), paused_collector.get_freeze_count() > 0))
        return 0

    monkeypatch.setattr(cli, "run_async", fake_run_async)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    for command in ("run", "serve"):
        paused_collector.disable()
        paused_collector.unfreeze()
        result = runner.invoke(app, [command])
        assert result.exit_code == 0, result.output
    assert seen == [(True, True), (True, True)]
    assert "bot.adapters.console" in sys.modules and "bot.runtime" in sys.modules


def test_python_m_bot_run_on_a_new_database_shows_the_question(tmp_path):
    """End to end through ``bot/__main__.py`` (which pauses the collector): a new database is
    built, the bank synced, today's question shown, and /quit leaves cleanly."""
    import subprocess
    import sys

    env = bot_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        QUESTIONS_DIR=str(ROOT / "questions"),
        PYTHONIOENCODING="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="/quit\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Today's interview question" in done.stdout


def _one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert text in result.output, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_outbox_retry_of_an_id_that_is_not_dead_says_so_and_changes_nothing(tmp_path, monkeypatch):
    database = _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO outbox (id, platform, workspace_external_id, channel_external_id, "
            "action, reply_context, card, topic, status, attempts, next_attempt_at, last_error, "
            "created_at) VALUES (7, 'slack', 'T1', 'C1', 'post', '{}', "
            """'{"kind": "notice", "title": "x"}', 'question', 'dead', 8, """
            "'2026-01-05 09:00:00', 'PermanentDeliveryError:channel_not_found', "
            "'2026-01-05 09:00:00')"
        )
    result = runner.invoke(app, ["outbox", "retry", "7", "12345"])
    _one_line_error(result, 1, "no dead message with id 12345")
    status = sqlite3.connect(database).execute("SELECT status FROM outbox").fetchone()
    assert status == ("dead",)  # the known id was not re-queued either
    retried = runner.invoke(app, ["outbox", "retry", "7"])
    assert retried.exit_code == 0 and "re-queued 1 message(s)" in retried.output


def test_downgrade_to_an_unknown_revision_is_one_line(tmp_path, monkeypatch):
    _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["db", "downgrade", "nosuch"])
    _one_line_error(result, 1, "migration: Can't locate revision identified by 'nosuch'")


def test_grade_with_a_folder_as_input_is_one_line(tmp_path):
    result = runner.invoke(app, ["grade", "--input", str(tmp_path), "--output", "out.jsonl"])
    _one_line_error(result, 1, "not a file")
    assert not (tmp_path / "out.jsonl").exists()


def test_grade_to_an_output_it_cannot_write_is_one_line(tmp_path):
    answers = tmp_path / "in.jsonl"
    answers.write_text(
        '{"question": "What is ReLU?", "reference": "ReLU is max(0, x), cheap to compute.", '
        '"answer": "max(0, x)"}\n',
        encoding="utf-8",
    )
    for output in (tmp_path, answers / "out.jsonl"):  # a folder; a path under a file
        result = runner.invoke(app, ["grade", "--input", str(answers), "--output", str(output)])
        _one_line_error(result, 1, f"cannot write {output}: ")


def test_usage_refuses_a_number_of_days_below_one(tmp_path, monkeypatch):
    _database(monkeypatch, tmp_path)
    result = runner.invoke(app, ["usage", "--days", "-3"])
    _one_line_error(result, 1, "--days must be at least 1")


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["nosuch"], "No such command 'nosuch'."),
        (["grade"], "Missing option '--input'."),
        (["usage", "--days", "x"], "Invalid value for '--days'"),
        (["outbox", "retry", "abc"], "Invalid value for 'ids'"),
        (["db", "--bogus"], "No such option: --bogus"),
    ],
)
def test_a_mistyped_command_or_option_is_one_line_and_exit_2(argv, text, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["interview-bot", *argv])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], captured.err
    assert "--help)" in lines[0]


def test_main_keeps_the_exit_codes_of_help_and_of_commands(monkeypatch, capsys):
    for argv, code in ((["--help"], 0), ([], 2), (["bank", "validate"], 0)):
        monkeypatch.setattr("sys.argv", ["interview-bot", *argv])
        with pytest.raises(SystemExit) as exited:
            cli.main()
        assert exited.value.code == code, argv
    assert "ok: " in capsys.readouterr().out


def test_a_downgrade_that_drops_data_asks_first_even_above_the_first_revision(
    tmp_path, monkeypatch
):
    database = _database(monkeypatch, tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    from bot.storage.migrate import head_revision

    head = head_revision()
    refused = runner.invoke(app, ["db", "downgrade", "0003"])  # drops the Slack installations
    _one_line_error(refused, 1, "downgrade cancelled; nothing changed")
    with sqlite3.connect(database) as connection:
        [(now,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert now == head and not list(tmp_path.glob("cli.backup-*.db"))
    asked = []
    monkeypatch.setattr(cli, "_ask", lambda question: asked.append(question) or False)
    assert runner.invoke(app, ["db", "downgrade", "0002"]).exit_code == 1  # answered no
    assert "0004: Slack installations" in asked[0] and "0003: mock interviews" in asked[0]
    done = runner.invoke(app, ["db", "downgrade", "0003", "--yes"])
    assert done.exit_code == 0, done.output
    assert "backed up the database to" in done.output and "database at revision 0003" in done.output
