"""A whole run at DEBUG never writes a secret or a member's answer to its logs: ``python -m
bot run`` serves Slack with a bot token, a signing secret and an OpenAI key, grades a practice
answer through the LLM, and everything it printed is searched for each of them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.adapters.slack.conftest import SECRET, TOKEN
from tests.adapters.slack.test_run import free_port, wait_for_port
from tests.adapters.test_console import MINI_BANK, ROOT
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import SlackSim, all_text, answer_values

OPENAI_KEY = "sk-test-0123456789abcdefSECRETKEY"
ANSWER = "ReLU returns max(0, x); its gradient is one for positive inputs. marker-7f3a9c"


async def test_a_debug_run_logs_no_secret_and_no_answer_text(fake_slack, tmp_path: Path):
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "OPENAI_", "LLM_", "GRADER"))
        and "proxy" not in key.lower()
    }
    async with FakeOpenAI() as openai:
        environment.update(
            DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
            QUESTIONS_DIR=str(MINI_BANK),
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake_slack.api_url,
            SLACK_PORT=str(port),
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=openai.base_url,
            LOG_LEVEL="DEBUG",
            PYTHONPATH=str(ROOT),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await wait_for_port(port, process, within=120)
            async with aiohttp.ClientSession() as session:
                slack = SlackSim(
                    f"http://127.0.0.1:{port}/slack/events", SECRET, fake_slack, session
                )
                await slack.command("practice", user="U1", hook="practice")
                [card] = await fake_slack.wait_until(lambda: fake_slack.hook("practice"), 30)
                [button] = [
                    element
                    for block in card["blocks"]
                    if block["type"] == "actions"
                    for element in block["elements"]
                ]
                await slack.click(button["action_id"], button["value"], user="U1")
                [opened] = await fake_slack.wait_for("views.open", within=30)
                submitted = await slack.submit(opened.view, answer_values(ANSWER), user="U1")
                assert submitted.status == 200
                graded = await fake_slack.wait_until(
                    lambda: [
                        call
                        for call in fake_slack.of("chat.postEphemeral")
                        if "Your grade:" in all_text(call.blocks)
                    ],
                    within=60,
                )
                assert graded
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert openai.requests, "the answer was graded by the LLM"
        assert openai.authorizations[0] == f"Bearer {OPENAI_KEY}"
    assert process.returncode == 0, stderr.decode()[-2000:]
    logs = stdout.decode() + stderr.decode()
    assert len(logs.splitlines()) > 10, "DEBUG logging printed the run"
    for line in stderr.decode().splitlines():
        json.loads(line)  # every log line is one JSON object
    for secret in (TOKEN, SECRET, OPENAI_KEY, "marker-7f3a9c", "max(0, x)"):
        assert secret not in logs, f"{secret!r} reached the logs"
