"""Request signatures (Bolt verifies them: a forged or stale request gets 401 and changes
nothing) and mention safety (no text a member writes can ping anyone)."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
import sqlalchemy as sa

from bot.storage.models import Answer, Member, Workspace
from tests.adapters.slack.conftest import slack_settings, start_world, stop_world
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import all_text, answer_values


async def _count(world, model) -> int:
    async with world.app.sessions() as session:
        return len((await session.execute(sa.select(model))).scalars().all())


async def test_forged_and_stale_requests_get_401_and_change_nothing(world):
    slack = world.slack
    workspaces, members = await _count(world, Workspace), await _count(world, Member)
    body = slack.command_body("nudges on", user="U1")
    forged = await slack.post(
        body, headers=slack.sign(body) | {"X-Slack-Signature": "v0=" + "0" * 64}
    )
    assert forged.status == 401
    other_body = slack.command_body("nudges off", user="U1")
    replayed = await slack.post(body, headers=slack.sign(other_body))  # another body's signature
    assert replayed.status == 401
    stale = await slack.post(body, headers=slack.sign(body, timestamp=int(time.time()) - 600))
    assert stale.status == 401
    unsigned = await slack.post(body, headers={"X-Slack-Request-Timestamp": str(int(time.time()))})
    assert unsigned.status == 401

    # a forged answer submission stores nothing either
    payload = slack.submission(
        {"callback_id": "interview-answer", "private_metadata": '{"t":"practice:1"}'},
        answer_values("let me in"),
        user="U1",
    )
    form = urllib.parse.urlencode({"payload": json.dumps(payload)})
    assert (await slack.post(form, headers={"X-Slack-Signature": "v0=bad",
                                            "X-Slack-Request-Timestamp": str(int(time.time()))})).status == 401  # fmt: skip

    await world.settle()
    assert world.fake.hooks == []
    assert [call.method for call in world.fake.calls] == ["auth.test"]  # only the start-up check
    assert await _count(world, Workspace) == workspaces
    assert await _count(world, Member) == members
    assert await _count(world, Answer) == 0

    signed = await slack.post(body)  # the same body, signed: accepted
    assert signed.status == 200


MASS_PINGS = (
    "<!channel> <!everyone> <!here|here> @channel @everyone @here <@U2> <#C1> "
    "&lt;!channel&gt; a<b & c>d <https://evil.example|click>"
)


def _no_pings(text: str) -> None:
    for forbidden in ("<!channel", "<!everyone", "<!here", "<@U2", "<#C1", "<https:", "<b"):
        assert forbidden not in text, forbidden
    for word in ("@channel", "@everyone", "@here"):
        assert word not in text.replace("@\u200b", "@-"), word


@pytest.fixture
async def llm_world(engine, database_url, fake_slack, clock, rng):
    """The real LLM grader (against the OpenAI fake, whose judge quotes the answer back as
    evidence) so the member's own words come back in the grade."""
    async with FakeOpenAI() as openai:
        settings = slack_settings(
            database_url, fake_slack, openai_api_key="sk-test", openai_base_url=openai.base_url
        )
        world = await start_world(settings, fake_slack, clock, rng, real_graders=True)
        yield world
        await stop_world(world)


async def test_mentions_in_an_answer_and_a_display_name_ping_nobody(llm_world):
    world = llm_world
    world.fake.add_user("U1", "<!channel> Alice @here")
    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    [post] = await world.fake.wait_for("chat.postMessage")
    button = next(e for b in post.blocks if b["type"] == "actions" for e in b["elements"])
    await world.slack.click(button["action_id"], button["value"], user="U1")
    [opened] = await world.fake.wait_for("views.open")
    answer = (
        f"ReLU outputs max(0, x) {MASS_PINGS}. Its gradient is 1 for positive inputs {MASS_PINGS}"
    )
    response = await world.slack.submit(opened.view, answer_values(answer), user="U1")
    assert response.json()["response_action"] == "update"
    await world.settle()
    [grade] = await world.fake.wait_for("chat.postEphemeral")
    sent = json.dumps(grade.blocks, ensure_ascii=False) + grade.data["text"]
    assert "“ReLU outputs max(0, x)" in all_text(grade.blocks)  # the evidence is quoted...
    _no_pings(all_text(grade.blocks))  # ...but cannot ping
    _no_pings(grade.data["text"])
    # escaped for mrkdwn: Slack shows these characters, it does not read markup in them
    assert "a&lt;b &amp; c&gt;d" in sent and "&amp;lt;!channel&amp;gt;" in sent
    for block in grade.blocks:
        for text in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(text, dict) and text.get("type") == "mrkdwn":
                assert text["verbatim"] is True
    assert grade.data["link_names"] is False

    # the display name shows on the leaderboard, inert too
    await world.slack.command("leaderboard", user="U1", hook="board")
    await world.settle()
    boards = world.fake.hook("board")
    text = "\n".join(all_text(board["blocks"]) for board in boards)
    assert "Alice" in text
    _no_pings(text)


@pytest.mark.parametrize("stamp", ["abc", "", "1.5e9", "²", " 1700000000"])
async def test_a_malformed_timestamp_gets_401_not_a_server_error(world, stamp, caplog):
    """Bolt and slack_sdk's SignatureVerifier call int() on X-Slack-Request-Timestamp: a
    non-numeric one was a 500 with a traceback (Bolt's dispatch) or aiohttp's 500 page (the
    answer intake), instead of the 401 every other unverifiable request gets."""
    slack = world.slack
    command = slack.command_body("nudges on", user="U1")
    payload = slack.submission(
        {"callback_id": "interview-answer", "private_metadata": '{"t":"practice:1"}'},
        answer_values("let me in"),
        user="U1",
    )
    answer = urllib.parse.urlencode({"payload": json.dumps(payload)})
    for body in (command, answer):
        headers = slack.sign(body) | {"X-Slack-Request-Timestamp": stamp}
        response = await slack.post(body, headers=headers)
        assert response.status == 401, (stamp, response.text)
    await world.settle()
    assert world.fake.hooks == []
    assert await _count(world, Answer) == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_body_bolt_cannot_parse_gets_400_signed_or_not(world, caplog):
    """Bolt parses the body (JSON, or the ``payload`` form field) before it checks the
    signature: these were a 500 and an ERROR with a traceback, for anyone who sent them."""
    slack = world.slack
    bodies = [
        ("payload=notjson", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("[]", "application/json"),
        ("{bad", "application/json"),
    ]
    for body, content_type in bodies:
        unsigned = {"X-Slack-Request-Timestamp": str(int(time.time()))}  # (post() signs {})
        for headers in (slack.sign(body), unsigned):
            response = await slack.post(body, content_type, headers=headers)
            assert response.status == 400, (body, headers, response.text)
    await world.settle()
    assert [call.method for call in world.fake.calls] == ["auth.test"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
