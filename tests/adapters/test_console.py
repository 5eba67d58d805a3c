"""The terminal adapter, driven through its real input and output streams."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.console import ConsoleSession
from bot.app import BotApp
from bot.config import load_settings
from bot.storage.models import Answer
from tests.fakes.graders import ScriptedGrader
from tests.processes import bot_environment

ROOT = Path(__file__).resolve().parents[2]
MINI_BANK = ROOT / "tests" / "data" / "mini_bank"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the terminal writes (charts, transcripts) go to ./data


@pytest.fixture
async def console_app(tmp_path, clock, rng):
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'console.db'}",
        questions_dir=MINI_BANK,
        default_timezone="Europe/Berlin",
    )
    grader = ScriptedGrader("scripted")
    app = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    yield app
    await app.close()


async def drive(app: BotApp, script: str) -> str:
    stdout = io.StringIO()
    session = ConsoleSession(app, stdin=io.StringIO(script), stdout=stdout, user_name="ada")
    assert await session.run() == 0
    return stdout.getvalue()


async def test_answer_today_then_stats_leaderboard_and_practice(console_app):
    script = "\n".join(
        [
            "gradients flow backwards",  # line one of a multi-line answer
            "weights update with the learning rate; loss decreases.",
            ".",
            "/stats",
            "/leaderboard",
            "/next",
            "   ",
            ".",  # an empty answer is refused, nothing stored
            "/bogus",
            "/quit",
        ]
    )
    output = await drive(console_app, script)
    assert "Today's interview question" in output
    assert "Your grade:" in output and "Reference answer" in output
    assert "Key points" in output and "Feedback" in output
    assert "Stats for ada" in output and "Streak: 1 post (best 1)" in output
    assert "Leaderboard — This week · this channel" in output and "ada — " in output
    assert "Practice question" in output
    assert "Your answer is empty" in output
    assert "Unknown command /bogus" in output
    assert output.rstrip().endswith("Bye — keep the streak going!")


async def test_a_resubmission_asks_first_and_no_keeps_the_earlier_answer(console_app):
    script = "first answer about relu\n.\nsecond answer\n.\nn\n/quit\n"
    output = await drive(console_app, script)
    assert "This replaces your answer of" in output and "Send it? [y/N]" in output
    assert "Not sent; your earlier answer stands." in output
    assert output.count("Your grade:") == 1


async def test_end_of_input_in_the_middle_of_an_answer_submits_nothing(console_app):
    output = await drive(console_app, "half an answer\nstill going")
    assert "nothing was submitted" in output and "Your grade:" not in output
    assert output.rstrip().endswith("Bye — keep the streak going!")
    async with console_app.sessions() as session:
        assert (await session.execute(sa.select(sa.func.count(Answer.id)))).scalar_one() == 0


async def test_schedule_shows_and_changes_the_practice_schedule(console_app):
    output = await drive(
        console_app, "/schedule\n/schedule days=mon-fri time=07:30\n/schedule days=funday\n/quit\n"
    )
    assert "Your practice schedule" in output and "every day" in output
    assert "Channel settings saved" in output and "Mon-Fri" in output and "07:30" in output
    assert "Nothing was changed" in output and "not a day of the week" in output


async def test_skip_with_a_date_is_a_holiday_and_bare_skip_is_the_interviews(console_app):
    output = await drive(console_app, "/skip 2026-12-24\n/skip\n/quit\n")
    assert "Skip dates updated" in output and "2026-12-24" in output
    # with no interview running, a bare /skip is about the interview, not the schedule
    assert output.count("Skip dates updated") == 1
    assert "You have no interview in progress." in output


async def test_end_of_input_quits_cleanly(console_app):
    output = await drive(console_app, "")
    assert "Bye" in output


async def test_oversized_answer_is_refused_with_the_limit(console_app):
    output = await drive(console_app, "x" * 4001 + "\n.\n/quit\n")
    assert "limit is 4000" in output


def test_python_m_bot_run_practises_in_the_terminal_over_pipes(tmp_path):
    env = bot_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.db'}",
        QUESTIONS_DIR=str(MINI_BANK),
        PYTHONIOENCODING="utf-8",
    )
    answer = "Training loss falls while validation loss rises; use dropout and early stopping.\n.\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input=answer + "/stats\n/quit\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Your grade:" in result.stdout
    assert "grader: offline" in result.stdout
    assert (tmp_path / "e2e.db").exists()


def test_run_with_unreachable_database_prints_one_line_and_exits_non_zero(tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
        QUESTIONS_DIR=str(MINI_BANK),
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 3
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_while_waiting_for_input_leaves_at_once_with_the_goodbye(tmp_path):
    env = bot_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'ctrlc.db'}", QUESTIONS_DIR=str(MINI_BANK)
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # as from a terminal: a test run started in the background (`nohup make test &`)
        # ignores SIGINT, and a child inherits that, so Ctrl-C would never reach the session
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("an answer in progress\n")
    process.stdin.flush()
    seen = ""
    while "or /command" not in seen:  # the prompt: the session is up and reading
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no output"
        seen += line
    time.sleep(0.5)  # let it read the first line of the answer
    process.send_signal(signal.SIGINT)
    # stdin stays open, so only the interrupt can end the session (communicate() would close
    # it, and on a loaded machine the end of input could win the race: a clean exit 0)
    try:
        process.wait(timeout=20)
    finally:
        process.kill()
    assert process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    process.stdin.close()
    assert "Interrupted: nothing was submitted" in stdout and "Bye" in stdout
    assert "Traceback" not in stderr
    assert process.returncode == 130


async def test_a_mock_interview_in_the_terminal_resumes_after_a_restart(tmp_path, clock, rng):
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'mock.db'}",
        questions_dir=MINI_BANK,
        default_timezone="Europe/Berlin",
    )
    grader = ScriptedGrader("scripted")
    first = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    try:
        output = await drive(first, "/mock 2\n/quit\n")
    finally:
        await first.close()
    assert "Mock interview · Question 1 of 2" in output
    asked = output.split("Question 1 of 2")[1].split("Topic:")[0]
    second = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    try:
        output = await drive(
            second,
            "/mock\nReLU outputs max(0, x).\n.\n/stop\n/report\n/stats\n/quit\n",
        )
    finally:
        await second.close()
    assert "Resumed where you stopped." in output
    assert output.split("Question 1 of 2")[1].split("Topic:")[0] == asked
    assert "Your grade:" in output and "mock interview: no points" in output
    assert "Question 2 of 2" in output
    assert output.count("📋 Mock interview stopped early") == 2  # /stop, then /report again
    transcript = tmp_path / "data" / "mock-interview-ada.md"
    assert transcript.exists() and "## Question 1" in transcript.read_text()
    chart = tmp_path / "data" / "progress-ada.png"
    assert chart.read_bytes().startswith(b"\x89PNG")


async def test_answers_typed_at_once_each_answer_the_question_shown_before_them(
    console_app, monkeypatch
):
    """The next mock question may still be on its way when the grade shows: the prompt waits
    for it, so answers typed without a pause go to the right questions."""
    from bot.adapters.console import ConsoleNotifier

    original = ConsoleNotifier.deliver

    async def slow_deliver(self, delivery):
        await asyncio.sleep(0.1)  # a busy machine: each card takes a moment to arrive
        return await original(self, delivery)

    monkeypatch.setattr(ConsoleNotifier, "deliver", slow_deliver)
    answer = "gradients flow backwards; weights update with the learning rate.\n.\n"
    output = await drive(console_app, "/mock 3\n" + answer * 3 + "/quit\n")
    assert "no longer waiting" not in output
    assert output.count("Your grade:") == 3
    assert "Question 3 of 3" in output and "📋 Mock interview finished" in output


async def test_usage_lines_name_the_terminals_own_commands(console_app):
    # /report is the interview's report in the terminal: a flag's usage must say /flag
    output = await drive(console_app, "/flag\n/schedule bogus=1\n/next no-such-topic\n/quit\n")
    assert "Usage: /flag <question id> <reason>" in output
    assert "Usage: /schedule [time=" in output
    assert "Usage: /next [topic or track]" in output
    assert "Usage: /report" not in output and "Usage: /config" not in output
    assert "Usage: /practice" not in output


async def test_a_title_too_long_for_the_border_is_shown_whole(console_app):
    # the unknown-topic error lists every topic in its title: none of it may be cut off
    output = await drive(console_app, "/next no-such-topic\n/quit\n")
    text = " ".join(line.strip("│ ") for line in output.splitlines())
    assert "Unknown topic, track or level 'no-such-topic'." in text
    assert "Topics and tracks: activations, deep-learning, fundamentals, regularization" in text
