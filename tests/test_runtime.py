"""Server mode without chat adapters (a worker replica): the HTTP server answers /healthz and
/metrics, health turns 503 when the database is gone, and logs hide secrets."""

from __future__ import annotations

import io
import json
import logging

import aiohttp
import pytest

from bot.app import BotApp
from bot.config import load_settings
from bot.logs import JsonFormatter, RedactingFilter, settings_secrets
from bot.runtime import Server
from bot.storage.db import create_engine
from tests.adapters.test_console import MINI_BANK
from tests.fakes.graders import ScriptedGrader


@pytest.fixture
async def server(engine, database_url, clock, rng):
    settings = load_settings(database_url=database_url, questions_dir=MINI_BANK)
    grader = ScriptedGrader()
    app = await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )
    running = Server(app, [], port=0, host="127.0.0.1")
    await running.start()
    yield running
    await running.stop()


async def test_healthz_and_metrics_answer_with_no_chat_adapter(server):
    base = f"http://127.0.0.1:{server.bound_port}"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{base}/healthz") as response:
            assert response.status == 200
            body = await response.json()
        async with client.get(f"{base}/metrics") as response:
            assert response.status == 200
            text = await response.text()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["outbox"]["stuck"] is False and body["adapters"] == {}
    for name in (
        "interview_answers_received_total",
        "interview_answers_graded_total",
        "interview_grading_seconds_bucket",
        "interview_llm_errors_total",
        "interview_outbox_depth",
        "interview_delivery_seconds_bucket",
        "interview_posts_total",
        "interview_event_loop_lag_seconds",
    ):
        assert name in text, name


async def test_health_is_503_when_the_database_is_unreachable(server):
    good = server.app.engine
    server.app.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        healthy, checks = await server.health()
    finally:
        await server.app.engine.dispose()
        server.app.engine = good
    assert not healthy and checks["status"] == "unhealthy"
    assert str(checks["database"]).startswith("unreachable")


def test_logs_are_json_lines_and_never_show_a_secret():
    settings = load_settings(
        openai_api_key="sk-test-0123456789abcdefghij",
        discord_token="MTIz.discord-token-value.xyz",
        database_url="postgresql://bot:hunter2secret@db:5432/bot",
    )
    secrets = settings_secrets(settings)
    assert "hunter2secret" in secrets and "sk-test-0123456789abcdefghij" in secrets
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bot.test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "calling with key %s", "sk-test-0123456789abcdefghij", extra={"answer_id": 7}
        )
        logger.warning("a stranger's token xoxb-1234567890-abcdefghij leaked")
        try:
            raise RuntimeError("postgresql://bot:hunter2secret@db failed")
        except RuntimeError:
            logger.exception("database error")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["warning", "warning", "error"]
    assert lines[0]["answer_id"] == 7
    output = stream.getvalue()
    for secret in (*secrets, "xoxb-1234567890-abcdefghij"):
        assert secret not in output
    assert output.count("[redacted]") >= 3


async def test_a_port_in_use_is_one_line_naming_the_setting(server, database_url, clock, rng):
    from bot.runtime import AdapterUnavailable

    settings = load_settings(database_url=database_url, questions_dir=MINI_BANK)
    grader = ScriptedGrader()
    app = await BotApp.create(
        settings, clock=clock, rng=rng, graders=(grader, grader), migrate=False
    )
    second = Server(app, [], port=server.bound_port, host="127.0.0.1")
    try:
        with pytest.raises(AdapterUnavailable) as caught:
            await second.start()
    finally:
        await second.stop()
    message = str(caught.value)
    assert message.startswith(f"the HTTP server cannot listen on port {server.bound_port}")
    assert "HTTP_PORT" in message and "in use" in message and "\n" not in message
