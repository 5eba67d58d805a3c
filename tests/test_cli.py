"""The command line as an operator meets it: exit codes and one-line messages."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.adapters.test_console import MINI_BANK, ROOT

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


def test_run_with_chat_tokens_says_which_adapter_is_not_available(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "token")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "discord adapter is not available yet" in result.output
