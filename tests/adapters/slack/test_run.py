"""``python -m bot run`` with Slack settings serves Slack: a real process, its HTTP endpoint on
SLACK_PORT, the fake Web API behind SLACK_API_URL, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.adapters.slack.conftest import SECRET, TOKEN
from tests.adapters.test_console import MINI_BANK, ROOT
from tests.fakes.slack_api import SlackSim, all_text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_for_port(port: int, process: asyncio.subprocess.Process, within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"the bot exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("the bot did not open its port")


async def test_bot_run_serves_slack_and_stops_on_sigterm(fake_slack, tmp_path: Path):
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "OPENAI_")) and "proxy" not in key.lower()
    }
    environment.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        QUESTIONS_DIR=str(MINI_BANK),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.api_url,
        SLACK_PORT=str(port),
        LOG_LEVEL="WARNING",
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
            slack = SlackSim(f"http://127.0.0.1:{port}/slack/events", SECRET, fake_slack, session)
            reply = await slack.command("help", user="U1", hook="run")
            assert reply.status == 200
            [answer] = await fake_slack.wait_until(lambda: fake_slack.hook("run"), within=30)
            assert "/interview today" in all_text(answer["blocks"])
            body = slack.command_body("help", user="U1")
            forged = await slack.post(body, headers={"X-Slack-Signature": "v0=forged",
                                                     "X-Slack-Request-Timestamp": "1"})  # fmt: skip
            assert forged.status == 401
        assert fake_slack.of("auth.test")[0].token == TOKEN
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()[-2000:]
