"""Regenerates the README's examples from the real bot, with the offline grader:

- ``docs/stats-example.png``: the progress chart ``/interview stats`` attaches, for a member who
  practised for six weeks (answers written from growing shares of the reference answers,
  submitted and graded through the real services on a temporary SQLite file, one simulated
  day at a time);
- ``docs/mock-transcript.txt``: a three-question mock interview in the terminal adapter
  (``python -m bot run`` driven through its standard input, answering with a strong, a partial
  and a weak answer).

    python docs/demo.py
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import BotApp  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain.bank import load_bank  # noqa: E402
from bot.services.answers import AnswerTarget  # noqa: E402
from bot.services.charts import progress_png  # noqa: E402
from bot.storage.models import Platform  # noqa: E402

PROMPT = "answer (end with a line '.') or /command:"
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE.split(text.strip()) if part.strip()]


async def stats_picture() -> tuple[bytes, str]:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            database_url=f"sqlite:///{Path(folder) / 'demo.db'}",
            questions_dir=ROOT / "questions",
            openai_api_key=None,
        )
        clock = ManualClock(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
        app = await BotApp.create(settings, clock=clock, rng=rng)
        try:
            actor = await app.directory.resolve(Platform.CONSOLE, "demo", "ada", member_name="Ada")
            for day in range(42):
                clock.set(datetime(2026, 10, 1, 8, 0, tzinfo=UTC) + timedelta(days=day))
                for _ in range(rng.choice((1, 1, 2, 3))):
                    question = await app.practice.next_question(actor.member_id)
                    assert question is not None and question.id is not None
                    parts = sentences(question.reference)
                    share = min(1.0, 0.15 + day / 50 + rng.uniform(-0.15, 0.15))
                    text = " ".join(parts[: max(1, round(share * len(parts)))])
                    await app.answers.submit(actor, AnswerTarget.practice(question.id), text)
                    clock.advance(timedelta(minutes=20))
                    await app.worker.drain()
            png, data = await progress_png(app.sessions, actor.member_id, "Ada · progress")
        finally:
            await app.close()
    return png, f"{len(data.scores)} graded answers, {len(data.topics)} topics"


def _read_until_prompt(process: subprocess.Popen[str], seen: list[str], prompts: int) -> str:
    """Collect the terminal's output until it has asked for input ``prompts`` times."""
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while "".join(seen).count(PROMPT) < prompts:
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the terminal session stopped answering")
        seen.append(process.stdout.read(1))
    return "".join(seen)


def _last_question(output: str) -> str:
    panel = output.rsplit("Mock interview · Question", 1)[1]
    lines = []
    for line in panel.splitlines()[1:]:
        body = line.strip().strip("│").strip()
        if body.startswith("Topic:"):
            break
        lines.append(body)
    return " ".join(" ".join(lines).split())


def mock_transcript(target: Path) -> None:
    bank = load_bank(ROOT / "questions")
    by_prompt = {" ".join(q.prompt.split()): q for q in bank.questions}
    with tempfile.TemporaryDirectory() as folder:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "DISCORD_", "OPENAI_"))
        }
        environment.update(COLUMNS="100", QUESTIONS_DIR=str(ROOT / "questions"))
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=folder,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdin is not None
        seen: list[str] = []
        _read_until_prompt(process, seen, 1)
        start = len("".join(seen))

        def send(line: str) -> None:
            assert process.stdin is not None
            seen.append(line + "\n")  # echo what was typed, as a terminal shows it
            process.stdin.write(line + "\n")
            process.stdin.flush()

        send("/mock activations beginner 3")
        for number, share in enumerate((0.8, 0.35, 0.0), start=2):
            output = _read_until_prompt(process, seen, number)
            question = by_prompt.get(_last_question(output))
            if question is None or share == 0.0:
                answer = "I am not sure; I think it has to do with how the network learns."
            else:
                parts = sentences(question.reference)
                answer = " ".join(parts[: max(1, round(share * len(parts)))])
            send(answer)
            send(".")
        output = _read_until_prompt(process, seen, 5)
        send("/quit")
        process.communicate(timeout=60)
    target.write_text("".join(seen)[start:].rstrip() + "\n", encoding="utf-8")
    print(f"{target}: {len(target.read_text().splitlines())} lines")


def main() -> None:
    here = Path(__file__).resolve().parent
    png, summary = asyncio.run(stats_picture())
    (here / "stats-example.png").write_bytes(png)
    print(f"{here / 'stats-example.png'}: {summary}")
    mock_transcript(here / "mock-transcript.txt")


if __name__ == "__main__":
    main()
