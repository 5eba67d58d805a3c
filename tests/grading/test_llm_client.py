"""The process's LLM client (``bot.app.openai_client``): aiohttp underneath, one per process,
closed by whoever asked for it, and the judge's reply read straight from the response JSON."""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path

import pytest

from bot.app import LLM_MAX_CONNECTIONS, build_llm_grader, openai_client
from bot.cli import _grade_file
from bot.config import load_settings
from bot.grading.base import TransientGradingError
from bot.grading.llm import completion_content
from bot.grading.offline import OfflineGrader
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
ANSWER = (
    "Dropout randomly sets a fraction of activations to zero during training, so units cannot "
    "co-adapt. At inference every unit is kept and the activations are scaled."
)


def _settings(tmp_path: Path, base_url: str):  # type: ignore[no-untyped-def]
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        questions_dir=ROOT / "questions",
        openai_api_key="sk-test",
        openai_base_url=base_url,
    )


def test_the_client_goes_through_aiohttp_with_room_for_every_grading_slot(tmp_path):
    from openai import DefaultAioHttpClient

    client = openai_client(_settings(tmp_path, "http://127.0.0.1:9/v1"))
    assert isinstance(client._client, DefaultAioHttpClient)
    assert LLM_MAX_CONNECTIONS >= 64 + 1  # GRADING_CONCURRENCY's maximum, plus follow-ups


async def test_batch_grading_through_the_llm_closes_its_client(tmp_path, caplog):
    points = [
        {"text": "Dropout randomly sets activations to zero during training", "weight": 5},
        {"text": "At inference every unit is kept and activations are scaled", "weight": 5},
    ]
    base = {"question": "What does dropout do?", "reference": ANSWER, "key_points": points}
    records = [{**base, "answer": ANSWER}, {**base, "answer": "No idea."}]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    async with FakeOpenAI() as server:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            status = await _grade_file(_settings(tmp_path, server.base_url), source, target, "llm")
            gc.collect()  # an unclosed aiohttp session complains when it is collected
        assert len(server.requests) == 2
    assert status == 0
    graded = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["grader"] for row in graded] == ["llm", "llm"]
    assert graded[0]["score"] > graded[1]["score"]
    assert "Unclosed" not in caplog.text


async def test_a_grader_on_a_shared_client_reads_content_and_tokens(tmp_path):
    async with FakeOpenAI() as server:
        settings = _settings(tmp_path, server.base_url)
        client = openai_client(settings)
        try:
            grader = build_llm_grader(settings, OfflineGrader(), client=client)
            assert grader.client is client  # type: ignore[attr-defined]
            content, tokens = await grader._complete(  # type: ignore[attr-defined]
                [{"role": "system", "content": "Key points:"}, {"role": "user", "content": "x"}]
            )
        finally:
            await client.close()
    assert content is not None and json.loads(content)["key_points"] == []
    assert all(count > 0 for count in tokens)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b'{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}', (None, (3, 0))),
        (
            b'{"choices": [{"message": {"role": "assistant", "content": "{}"}}]}',
            ("{}", (0, 0)),
        ),
        (
            b'{"choices": [{"message": {"content": null}}], "usage": {"prompt_tokens": 5,'
            b' "completion_tokens": 7}}',
            (None, (5, 7)),
        ),
    ],
)
def test_completion_content_reads_the_first_choice_and_the_usage(payload, expected):
    assert completion_content(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        b"<html>bad gateway</html>",
        b"[1, 2]",
        b'{"choices": [{"text": "no message"}]}',
        b'{"choices": [{"message": {"content": 42}}]}',
    ],
)
def test_a_body_that_is_not_a_completion_is_a_transient_error(payload):
    with pytest.raises(TransientGradingError, match="unusable"):
        completion_content(payload)
